import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from './cli-process.test-support.js';

const PROFILE = `# check: min
net.core.somaxconn = 8192
net.ipv4.tcp_rmem = 4096 131072 16777216
vm.swappiness = 1
net.ipv4.tcp_not_in_this_kernel = 1
`;

/** The real binary against a fixture /proc/sys and /sys: exit codes, output and what it writes. */
describe('orchestrator host check | apply | rollback (fixture trees)', () => {
  let dir: string;
  let procSys: string;
  let sys: string;
  let profile: string;
  let stateFile: string;
  const put = async (path: string, content: string) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  };
  const roots = () => ['--profile', profile, '--proc-sys', procSys, '--sys', sys];
  const host = (...args: string[]) => runCli(['host', ...args], process.env);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orch-host-cli-'));
    procSys = join(dir, 'proc-sys');
    sys = join(dir, 'sys');
    profile = join(dir, 'profile.conf');
    stateFile = join(dir, 'state', 'previous.json');
    await put(profile, PROFILE);
    await put(join(procSys, 'net/core/somaxconn'), '4096\n');
    await put(join(procSys, 'net/ipv4/tcp_rmem'), '4096\t131072\t6291456\n');
    await put(join(procSys, 'vm/swappiness'), '1\n');
    await put(join(sys, 'kernel/mm/transparent_hugepage/enabled'), 'always [madvise] never\n');
    await put(join(sys, 'kernel/mm/transparent_hugepage/defrag'), 'always defer defer+madvise madvise [never]\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('check prints key/want/have/status and exits 1 on drift', async () => {
    const result = await host('check', ...roots());
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^KEY\s+WANT\s+HAVE\s+STATUS$/);
    assert.match(result.stdout, /net\.core\.somaxconn\s+>= 8192\s+4096\s+drift/);
    assert.match(result.stdout, /net\.ipv4\.tcp_rmem\s+4096 131072 16777216\s+4096 131072 6291456\s+drift/);
    assert.match(result.stdout, /net\.ipv4\.tcp_not_in_this_kernel\s+1\s+-\s+unsupported/);
    assert.match(result.stdout, /\/sys\/kernel\/mm\/transparent_hugepage\/enabled\s+never\s+madvise\s+drift/);
    assert.match(result.stdout, /\/sys\/kernel\/mm\/transparent_hugepage\/defrag\s+never\s+never\s+ok/);
    assert.equal(lines.at(-1), '2 ok, 3 drift, 1 unsupported, 0 unreadable');
  });

  it('apply --dry-run lists the changes and writes nothing', async () => {
    const result = await host('apply', '--dry-run', '--state-file', stateFile, ...roots());
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /net\.core\.somaxconn\s+4096\s+8192/);
    assert.match(result.stdout, /dry run: 3 setting\(s\) would change; nothing written/);
    assert.equal(await readFile(join(procSys, 'net/core/somaxconn'), 'utf8'), '4096\n');
    await assert.rejects(access(stateFile));
  });

  it('apply writes and saves; a second apply is refused; check then exits 0; rollback restores once', async () => {
    const applied = await host('apply', '--state-file', stateFile, ...roots());
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(await readFile(join(procSys, 'net/core/somaxconn'), 'utf8'), '8192\n');
    assert.equal(await readFile(join(sys, 'kernel/mm/transparent_hugepage/enabled'), 'utf8'), 'never\n');

    const check = await host('check', '--json', ...roots());
    assert.equal(check.code, 0, check.stdout);
    const report = JSON.parse(check.stdout) as { summary: Record<string, number> };
    assert.deepEqual(report.summary, { ok: 5, drift: 0, unsupported: 1, unreadable: 0 });

    await writeFile(join(procSys, 'vm/swappiness'), '60\n');
    const refused = await host('apply', '--state-file', stateFile, ...roots());
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already holds values saved by an earlier apply; run `host rollback/);
    assert.equal(await readFile(join(procSys, 'vm/swappiness'), 'utf8'), '60\n');

    const back = await host('rollback', '--state-file', stateFile);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /restored 3 setting\(s\), 0 already as saved; .* removed/);
    assert.equal(await readFile(join(procSys, 'net/core/somaxconn'), 'utf8'), '4096\n');
    assert.equal(await readFile(join(procSys, 'net/ipv4/tcp_rmem'), 'utf8'), '4096 131072 6291456\n');
    assert.equal(await readFile(join(sys, 'kernel/mm/transparent_hugepage/enabled'), 'utf8'), 'madvise\n');

    const none = await host('rollback', '--state-file', stateFile);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /^error: no saved state at .*: nothing to roll back\n$/);
  });

  it('exits 1 on an unreadable key, 2 on a bad profile and 3 on a missing one', async () => {
    await rm(join(procSys, 'vm/swappiness'));
    await mkdir(join(procSys, 'vm/swappiness'));
    const unreadable = await host('check', ...roots());
    assert.equal(unreadable.code, 1);
    assert.match(unreadable.stdout, /vm\.swappiness\s+1\s+-\s+unreadable \(EISDIR\)/);

    const bad = join(dir, 'bad.conf');
    await writeFile(bad, '# check: min\nnet.core.default_qdisc = fq\n');
    const badResult = await host('check', '--profile', bad, '--proc-sys', procSys, '--sys', sys);
    assert.equal(badResult.code, 2);
    assert.match(badResult.stderr, /bad profile: .*bad\.conf:2: "check: min" needs numbers/);

    const missing = await host('check', '--profile', join(dir, 'nope.conf'));
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /profile not found: .*nope\.conf/);
  });
});
