import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkSettings,
  DEFAULT_SYSCTL_PROFILE,
  DEFAULT_TMPFILES_PROFILE,
  HOST_ROOTS,
  isPerNetns,
  loadSysctlProfile,
  type ProfileSetting,
} from '#libs/host-tuning';
import { CLI_MAIN, runCommand, type CliResult } from './cli-process.test-support.js';

interface CheckOutput {
  settings: { key: string; have: string | null; status: string }[];
  summary: { ok: number; drift: number; unsupported: number; unreadable: number };
}

const hostValues = async (settings: ProfileSetting[]): Promise<Record<string, string | null>> =>
  Object.fromEntries((await checkSettings(settings, HOST_ROOTS)).map((r) => [r.setting.key, r.have]));

const ip = async (...args: string[]): Promise<CliResult> => {
  const result = await runCommand('ip', args, process.env, 30_000);
  assert.equal(result.code, 0, `ip ${args.join(' ')}: ${result.stderr}`);
  return result;
};

/**
 * The real CLI inside a throwaway network namespace: the per-namespace keys are applied, checked and rolled back there
 * while the host's values of every profile key stay as they were.
 */
describe('orchestrator host check | apply | rollback --netns-only in a network namespace', () => {
  const ns = `orch-test-${randomBytes(4).toString('hex')}`;
  let dir: string;
  let settings: ProfileSetting[];
  let hostBefore: Record<string, string | null>;

  const cliInNs = (args: string[]) =>
    runCommand('ip', ['netns', 'exec', ns, process.execPath, CLI_MAIN, 'host', ...args], process.env, 60_000);
  const checkInNs = async (): Promise<CliResult & { report: CheckOutput }> => {
    const result = await cliInNs(['check', '--netns-only', '--json']);
    return { ...result, report: JSON.parse(result.stdout) as CheckOutput };
  };

  before(async () => {
    settings = await loadSysctlProfile({ sysctl: DEFAULT_SYSCTL_PROFILE, tmpfiles: DEFAULT_TMPFILES_PROFILE });
    hostBefore = await hostValues(settings);
    dir = await mkdtemp(join(tmpdir(), 'orch-netns-'));
    await ip('netns', 'add', ns);
  });

  after(async () => {
    await runCommand('ip', ['netns', 'delete', ns], process.env, 30_000);
    await rm(dir, { recursive: true, force: true });
    const namespaces = await ip('netns', 'list');
    assert.ok(!namespaces.stdout.includes(ns), `${ns} was left behind`);
  });

  it('applies the per-namespace keys, sees no drift, and rolls back to the values before', async () => {
    const stateFile = join(dir, 'previous.json');
    const first = await checkInNs();
    const perNetns = settings.filter(isPerNetns).map((s) => s.key);
    assert.deepEqual(
      first.report.settings.map((s) => s.key),
      perNetns,
    );
    assert.ok(first.report.summary.drift > 0, 'a fresh namespace should drift from the profile on some keys');
    assert.equal(first.code, 1, 'drift exits 1');
    assert.deepEqual([first.report.summary.unsupported, first.report.summary.unreadable], [0, 0]);
    const valuesBefore = Object.fromEntries(first.report.settings.map((s) => [s.key, s.have]));

    const dryRun = await cliInNs(['apply', '--netns-only', '--dry-run', '--state-file', stateFile]);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    await assert.rejects(access(stateFile), 'a dry run writes no state');
    assert.equal((await checkInNs()).report.summary.drift, first.report.summary.drift, 'a dry run changes nothing');

    const apply = await cliInNs(['apply', '--netns-only', '--state-file', stateFile, '--json']);
    assert.equal(apply.code, 0, apply.stderr);
    const applied = JSON.parse(apply.stdout) as { written: unknown[]; failed: unknown[] };
    assert.deepEqual([applied.written.length, applied.failed], [first.report.summary.drift, []]);

    const second = await checkInNs();
    assert.equal(second.code, 0, second.stdout);
    assert.deepEqual(second.report.summary, { ok: perNetns.length, drift: 0, unsupported: 0, unreadable: 0 });

    const again = await cliInNs(['apply', '--netns-only', '--state-file', stateFile]);
    assert.equal(again.code, 0, 'nothing left to change is not an error');

    const back = await cliInNs(['rollback', '--state-file', stateFile]);
    assert.equal(back.code, 0, back.stderr);
    await assert.rejects(access(stateFile), 'rollback removes the state file');
    const restored = await checkInNs();
    assert.deepEqual(Object.fromEntries(restored.report.settings.map((s) => [s.key, s.have])), valuesBefore);

    assert.deepEqual(await hostValues(settings), hostBefore, "the host's values must not change");
  });

  it('classifies keys as the kernel does: per-namespace keys writable in the namespace, global ones not', async () => {
    const paths = settings
      .filter((s) => s.kind === 'sysctl' && s.relativePath.startsWith('net/'))
      .map((s) => ({ s, path: join('/proc/sys', s.relativePath) }));
    // stat inside the namespace: its /proc/sys/net is the namespace's own.
    const script = paths.map(({ path }) => `stat -c %a ${path} 2>/dev/null || echo absent`).join('; ');
    const result = await runCommand('ip', ['netns', 'exec', ns, 'sh', '-c', script], process.env, 30_000);
    const modes = result.stdout.trim().split('\n');
    assert.equal(modes.length, paths.length);
    paths.forEach(({ s }, i) => {
      const writable = modes[i] !== 'absent' && /^[2367]/.test(modes[i] ?? '');
      assert.equal(writable, isPerNetns(s), `${s.key}: mode ${modes[i]} in a namespace, isPerNetns ${isPerNetns(s)}`);
    });
  });
});
