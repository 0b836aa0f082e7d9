// The test of infra/host-tuning/nic/tune-nic.sh (tsc and eslint do not cover infra/, so its tests live under test/).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '#test/support/processes.js';
import { parseCpuList } from '#libs/host-tuning';

const execFileAsync = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'infra/host-tuning/nic/tune-nic.sh');
const NETNS = `tune-nic-test-${process.pid}`;
const NIC = 'v0';
const QUEUES = 4;
const RFS_SYSCTL = '/proc/sys/net/core/rps_sock_flow_entries';

/**
 * Stands in for ethtool so that its steps run the same on any machine (this one has no ethtool, and a veth has neither
 * combined channels nor rings): it answers the queries like a NIC with 8 combined channels and 4096-entry rings,
 * refuses `-L` as many drivers do, accepts the other changes, and logs every call.
 */
const ETHTOOL_STUB = `#!/usr/bin/env bash
echo "$*" >>"$STUB_LOG"
case "$1" in
  -l) printf 'Channel parameters for %s:\\nPre-set maximums:\\nRX:\\t\\tn/a\\nTX:\\t\\tn/a\\nOther:\\t\\t1\\nCombined:\\t8\\nCurrent hardware settings:\\nRX:\\t\\tn/a\\nTX:\\t\\tn/a\\nOther:\\t\\t1\\nCombined:\\t4\\n' "$2" ;;
  -g) printf 'Ring parameters for %s:\\nPre-set maximums:\\nRX:\\t\\t4096\\nRX Mini:\\tn/a\\nTX:\\t\\t4096\\nCurrent hardware settings:\\nRX:\\t\\t256\\nRX Mini:\\tn/a\\nTX:\\t\\t256\\n' "$2" ;;
  -c) printf 'Coalesce parameters for %s:\\nAdaptive RX: off  TX: off\\nrx-usecs: 3\\n' "$2" ;;
  -k) printf 'Features for %s:\\ngeneric-segmentation-offload: on\\ngeneric-receive-offload: on\\ntcp-segmentation-offload: off\\nlarge-receive-offload: off [fixed]\\n' "$2" ;;
  -L) echo "netlink error: Operation not supported" >&2; exit 76 ;;
esac
`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const ip = async (...args: string[]): Promise<void> => {
  const result = await run('ip', args);
  assert.equal(result.code, 0, `ip ${args.join(' ')}: ${result.stderr}`);
};

/** A cpumask as the kernel prints it ("3", "00000000,00000003") → a number to compare. */
const maskValue = (text: string): bigint => BigInt(`0x${text.trim().replaceAll(',', '') || '0'}`);
const maskOf = (cpus: readonly number[]): bigint => cpus.reduce((m, cpu) => m | (1n << BigInt(cpu)), 0n);

describe('infra/host-tuning/nic/tune-nic.sh in a throwaway network namespace', () => {
  let dir: string;
  let stubEnv: NodeJS.ProcessEnv;
  let steering: number[];
  let hostRfsBefore: string;

  /** The script inside the namespace, where /sys shows the namespace's NICs. */
  const tune = (args: string[], env: NodeJS.ProcessEnv = stubEnv) =>
    run('ip', [
      'netns',
      'exec',
      NETNS,
      'env',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      'bash',
      SCRIPT,
      ...args,
    ]);

  /** Every steering file of the veth, read inside the namespace: path → value. */
  async function queueFiles(): Promise<Map<string, string>> {
    const { stdout } = await run('ip', [
      'netns',
      'exec',
      NETNS,
      'bash',
      '-c',
      `cd /sys/class/net/${NIC}/queues && grep -H . rx-*/rps_cpus rx-*/rps_flow_cnt tx-*/xps_cpus`,
    ]);
    return new Map(
      stdout
        .trim()
        .split('\n')
        .map((line) => line.split(':') as [string, string]),
    );
  }

  const stubLog = async (): Promise<string[]> =>
    (await readFile(stubEnv.STUB_LOG!, 'utf8').catch(() => '')).split('\n').filter(Boolean);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tune-nic-'));
    await writeFile(join(dir, 'ethtool'), ETHTOOL_STUB);
    await chmod(join(dir, 'ethtool'), 0o755);
    stubEnv = { ETHTOOL: join(dir, 'ethtool'), STUB_LOG: join(dir, 'ethtool.log') };
    const online = parseCpuList(await readFile('/sys/devices/system/cpu/online', 'utf8'));
    steering = online.length > 2 ? online.slice(1) : online;
    hostRfsBefore = await readFile(RFS_SYSCTL, 'utf8');
    await ip('netns', 'add', NETNS);
    await ip(
      '-n',
      NETNS,
      'link',
      'add',
      NIC,
      'numrxqueues',
      String(QUEUES),
      'numtxqueues',
      String(QUEUES),
      'type',
      'veth',
      'peer',
      'name',
      'v1',
      'numrxqueues',
      String(QUEUES),
      'numtxqueues',
      String(QUEUES),
    );
  });

  after(async () => {
    await run('ip', ['netns', 'del', NETNS]);
    await rm(dir, { recursive: true, force: true });
    const { stdout } = await run('ip', ['netns', 'list']);
    assert.ok(!stdout.includes(NETNS), 'the namespace is gone');
    assert.equal(await readFile(RFS_SYSCTL, 'utf8'), hostRfsBefore, "the host's rps_sock_flow_entries is unchanged");
  });

  it('--dry-run plans every queue and every ethtool step, and changes nothing', async () => {
    const before = await queueFiles();
    const result = await tune(['--iface', NIC, '--dry-run', '--no-global']);
    assert.equal(result.code, 0, result.stderr);
    for (let q = 0; q < QUEUES; q++) {
      for (const file of [`rx-${q}/rps_cpus`, `rx-${q}/rps_flow_cnt`, `tx-${q}/xps_cpus`]) {
        assert.match(result.stdout, new RegExp(`^would write \\S+ > /sys/class/net/${NIC}/queues/${file}$`, 'm'));
      }
    }
    const want = Math.min(steering.length, 8);
    for (const step of [
      `-L ${NIC} combined ${want}`,
      `-X ${NIC} equal ${want}`,
      `-C ${NIC} adaptive-rx on adaptive-tx on`,
      `-G ${NIC} rx 4096 tx 4096`,
      `-K ${NIC} gro on gso on tso on lro off`,
    ]) {
      assert.ok(result.stdout.includes(`would run ethtool ${step}\n`), step);
    }
    assert.deepEqual(await queueFiles(), before);
    assert.deepEqual(
      (await stubLog()).filter((call) => !/^-[lcgk] /.test(call)),
      [],
      'only ethtool queries were run',
    );
  });

  it('steers for real, reports the refused ethtool step, and rolls back to the values before', async () => {
    const before = await queueFiles();
    const save = join(dir, 'saved.tsv');
    const result = await tune(['--iface', NIC, '--no-global', '--save', save]);
    assert.equal(result.code, 6, `a refused ethtool op exits 6: ${result.stderr}`);
    assert.match(
      result.stderr,
      /the driver refused: ethtool -L v0 combined \d+: netlink error: Operation not supported/,
    );

    const after = await queueFiles();
    for (let q = 0; q < QUEUES; q++) {
      assert.equal(maskValue(after.get(`rx-${q}/rps_cpus`)!), maskOf(steering), `rx-${q} rps_cpus`);
      assert.equal(after.get(`rx-${q}/rps_flow_cnt`), String(32768 / QUEUES), `rx-${q} rps_flow_cnt`);
      assert.equal(maskValue(after.get(`tx-${q}/xps_cpus`)!), maskOf([steering[q % steering.length]!]), `tx-${q}`);
    }
    const changes = (await stubLog()).filter((call) => !/^-[lcgk] /.test(call));
    assert.deepEqual(changes, [
      `-L ${NIC} combined ${Math.min(steering.length, 8)}`,
      `-X ${NIC} equal ${Math.min(steering.length, 8)}`,
      `-C ${NIC} adaptive-rx on adaptive-tx on`,
      `-G ${NIC} rx 4096 tx 4096`,
      `-K ${NIC} gro on gso on tso on lro off`,
    ]);

    await writeFile(stubEnv.STUB_LOG!, '');
    const rollback = await tune(['--rollback', save, '--no-global']);
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.deepEqual(await queueFiles(), before);
    // What was changed is undone, last first; the refused -L changed nothing and is not undone.
    assert.deepEqual(await stubLog(), [
      `-K ${NIC} gro on gso on tso off lro off`,
      `-G ${NIC} rx 256 tx 256`,
      `-C ${NIC} adaptive-rx off adaptive-tx off`,
      `-X ${NIC} default`,
    ]);
  });

  it('without ethtool, says so, skips its steps and still does the sysfs ones (exit 5)', async () => {
    const before = await queueFiles();
    const save = join(dir, 'saved-no-ethtool.tsv');
    const result = await tune(['--iface', NIC, '--no-global', '--save', save], { ETHTOOL: join(dir, 'no-ethtool') });
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stderr, /ethtool \(.*no-ethtool\) not found: skipping RSS channels, coalescing, ring buffers/);
    assert.doesNotMatch(result.stdout, /ethtool/);
    assert.equal(maskValue((await queueFiles()).get('rx-0/rps_cpus')!), maskOf(steering));
    assert.equal((await tune(['--rollback', save, '--no-global'])).code, 0);
    assert.deepEqual(await queueFiles(), before);
  });

  it('names a NIC or a queue that does not exist, with exit codes 3 and 4', async () => {
    const nic = await tune(['--iface', 'nope0', '--dry-run', '--no-global']);
    assert.equal(nic.code, 3);
    assert.match(nic.stderr, /no NIC named nope0 here/);

    const stale = join(dir, 'stale.tsv');
    await writeFile(stale, `write\t/sys/class/net/${NIC}/queues/rx-9/rps_cpus\t0\n`);
    const queue = await tune(['--rollback', stale, '--no-global']);
    assert.equal(queue.code, 4);
    assert.match(queue.stderr, /queues\/rx-9\/rps_cpus does not exist: the queue is gone/);
  });

  it('refuses to guess a virtual NIC from the default route, and takes it when named', async () => {
    const none = await tune(['--dry-run', '--no-global']);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no default route/);
    await ip('-n', NETNS, 'link', 'set', NIC, 'up');
    await ip('-n', NETNS, 'link', 'set', 'v1', 'up');
    await ip('-n', NETNS, 'addr', 'add', '192.0.2.10/24', 'dev', NIC);
    await ip('-n', NETNS, 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', NIC);
    const virtual = await tune(['--dry-run', '--no-global']);
    assert.equal(virtual.code, 3);
    assert.match(virtual.stderr, /the default route's NIC v0 is virtual or loopback; name it with --iface/);
    assert.equal((await tune(['--iface', NIC, '--dry-run', '--no-global'])).code, 0);
  });
});
