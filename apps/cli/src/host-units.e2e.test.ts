import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from './cli-support.js';
import { runCli } from './cli-process.test-support.js';

describe('orchestrator host units', () => {
  let dir: string;
  const units = (...args: string[]) => runCli(['host', 'units', ...args], process.env);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'host-units-'));
    // A fake / of a 2-node machine with CPUs 6-7 offline.
    const files: Record<string, string> = {
      'sys/devices/system/cpu/online': '0-5,8-15\n',
      'sys/devices/system/node/node0/cpulist': '0-7\n',
      'sys/devices/system/node/node1/cpulist': '8-15\n',
      'proc/meminfo': 'MemTotal:       33554432 kB\n',
    };
    // And one whose NUMA nodes miss online CPUs 4-7.
    const uncovered = {
      ...files,
      'sys/devices/system/cpu/online': '0-15\n',
      'sys/devices/system/node/node0/cpulist': '0-3\n',
    };
    for (const [root, tree] of [
      ['root', files],
      ['uncovered', uncovered],
    ] as const) {
      for (const [path, text] of Object.entries(tree)) {
        await mkdir(dirname(join(dir, root, path)), { recursive: true });
        await writeFile(join(dir, root, path), text);
      }
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints every file under a header, fitted to the tree given by --sys', async () => {
    const result = await units('--sys', join(dir, 'root'), '--install-dir', '/srv/orch');
    assert.equal(result.code, 0, result.stderr);
    const headers = [...result.stdout.matchAll(/^==> (.+) <==$/gm)].map((m) => m[1]);
    assert.ok(headers.includes('orchestrator-api.service') && headers.includes('orchestrator-worker@.service'));
    assert.match(result.stdout, /14 online CPU\(s\) 0-5,8-15, 2 NUMA node\(s\)/);
    assert.match(result.stdout, /^AllowedCPUs=9-15$/m, 'runners on node 1 but its first CPU');
    assert.match(result.stdout, /^ExecStart=\/srv\/orch\/node_modules\/\.bin\/node \/srv\/orch\/dist\/apps\/api/m);
  });

  it('writes the files with --out, for a machine described by flags', async () => {
    const out = join(dir, 'out');
    const result = await units('--cpus', '64', '--numa-nodes', '2', '--memory', '256G', '--out', out);
    assert.equal(result.code, 0, result.stderr);
    const written = (await readdir(out, { recursive: true })).sort();
    assert.ok(written.includes('orchestrator-runner.slice') && written.includes('orchestrator-fanout.service'));
    assert.match(await readFile(join(out, 'orchestrator-runner.slice'), 'utf8'), /^CPUQuota=3100%$/m);
    assert.match(result.stderr, /fitted to 64 online CPU/);
  });

  it('refuses an impossible machine with a usage error', async () => {
    for (const [args, message] of [
      [['--cpus', '0'], /at least 1 CPU/],
      [['--cpus', '2', '--numa-nodes', '3'], /3 NUMA nodes for 2 CPUs/],
      [['--cpus', '4', '--memory', 'lots'], /not a size: "lots"/],
      [['--sys', join(dir, 'uncovered')], /the NUMA nodes do not cover online CPUs 4-7/],
      [['--sys', join(dir, 'missing')], /cannot read .*missing\/sys\/devices\/system\/cpu\/online/],
    ] as const) {
      const result = await units(...args);
      assert.equal(result.code, EXIT.usage, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
    }
  });
});
