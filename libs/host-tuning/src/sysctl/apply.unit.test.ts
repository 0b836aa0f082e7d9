import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applyPlan, NoSavedState, planApply, rollbackSettings, type ApplyPlan } from './apply.js';
import { checkSettings } from './check.js';
import { fixtureTree } from './fixture-tree.test-support.js';
import { parseSysctlProfile, parseTmpfilesWrites } from './profile.js';
import { loadState, StateFileExists, StateFileInvalid } from './state-file.js';

const settings = [
  ...parseSysctlProfile(
    'net.ipv4.tcp_fin_timeout = 15\nnet.ipv4.ip_local_port_range = 10240 65535\n# check: min\nnet.ipv4.tcp_wmem = 4096 65536 16777216\nvm.swappiness = 1\n',
  ),
  ...parseTmpfilesWrites('w /sys/kernel/mm/transparent_hugepage/enabled - - - - never\n'),
];

const BEFORE = {
  'net/ipv4/tcp_fin_timeout': '60',
  'net/ipv4/ip_local_port_range': '32768\t60999',
  'net/ipv4/tcp_wmem': '4096\t16384\t33554432',
  'vm/swappiness': '1',
};

async function tree() {
  return fixtureTree(BEFORE, { 'kernel/mm/transparent_hugepage/enabled': 'always [madvise] never' });
}

describe('applyPlan and rollbackSettings on a fixture tree', () => {
  it('writes the drifting values, saves the replaced ones, and rollback restores them and removes the state', async (t) => {
    const fx = await tree();
    t.after(() => fx.remove());
    const stateFile = join(fx.base, 'state', 'previous.json');
    const plan = planApply(await checkSettings(settings, fx), fx);
    assert.equal(plan.changes.length, 4); // vm.swappiness is already 1

    const result = await applyPlan(plan, { stateFile, now: new Date('2026-01-02T03:04:05Z') });
    assert.deepEqual(result.failed, []);
    assert.equal(await fx.read('procSys', 'net/ipv4/tcp_fin_timeout'), '15\n');
    assert.equal(await fx.read('procSys', 'net/ipv4/ip_local_port_range'), '10240 65535\n');
    assert.equal(await fx.read('procSys', 'net/ipv4/tcp_wmem'), '4096 65536 33554432\n');
    assert.equal(await fx.read('sys', 'kernel/mm/transparent_hugepage/enabled'), 'never\n');
    assert.equal(await fx.read('procSys', 'vm/swappiness'), '1\n');
    const after = await checkSettings(settings, fx);
    assert.deepEqual(
      after.filter((r) => r.status !== 'ok'),
      [],
    );

    const state = await loadState(stateFile);
    assert.equal(state?.savedAt, '2026-01-02T03:04:05.000Z');
    assert.deepEqual(
      state?.settings.map((s) => [s.key, s.previous, s.path]),
      [
        ['net.ipv4.tcp_fin_timeout', '60', join(fx.procSys, 'net/ipv4/tcp_fin_timeout')],
        ['net.ipv4.ip_local_port_range', '32768 60999', join(fx.procSys, 'net/ipv4/ip_local_port_range')],
        ['net.ipv4.tcp_wmem', '4096 16384 33554432', join(fx.procSys, 'net/ipv4/tcp_wmem')],
        [
          '/sys/kernel/mm/transparent_hugepage/enabled',
          'madvise',
          join(fx.sys, 'kernel/mm/transparent_hugepage/enabled'),
        ],
      ],
    );

    const back = await rollbackSettings(stateFile);
    assert.deepEqual([back.restored.length, back.unchanged, back.failed, back.stateRemoved], [4, 0, [], true]);
    assert.equal(await fx.read('procSys', 'net/ipv4/tcp_fin_timeout'), '60\n');
    assert.equal(await fx.read('procSys', 'net/ipv4/ip_local_port_range'), '32768 60999\n');
    assert.equal(await fx.read('procSys', 'net/ipv4/tcp_wmem'), '4096 16384 33554432\n');
    assert.equal(await fx.read('sys', 'kernel/mm/transparent_hugepage/enabled'), 'madvise\n');
    assert.equal(await loadState(stateFile), null);
    await assert.rejects(rollbackSettings(stateFile), NoSavedState);
  });

  it('refuses a second apply while values are saved, writing nothing, unless asked to overwrite', async (t) => {
    const fx = await tree();
    t.after(() => fx.remove());
    const stateFile = join(fx.base, 'previous.json');
    await applyPlan(planApply(await checkSettings(settings, fx), fx), { stateFile });
    const original = await readFile(stateFile, 'utf8');

    // Someone changes a value by hand; a second apply must not save the profile's values as "previous".
    await writeFile(join(fx.procSys, 'net/ipv4/tcp_fin_timeout'), '30\n');
    const second = planApply(await checkSettings(settings, fx), fx);
    assert.equal(second.changes.length, 1);
    await assert.rejects(applyPlan(second, { stateFile }), StateFileExists);
    assert.equal(await fx.read('procSys', 'net/ipv4/tcp_fin_timeout'), '30\n');
    assert.equal(await readFile(stateFile, 'utf8'), original);

    await applyPlan(second, { stateFile, overwriteState: true });
    assert.equal(await fx.read('procSys', 'net/ipv4/tcp_fin_timeout'), '15\n');
    assert.deepEqual(
      (await loadState(stateFile))?.settings.map((s) => [s.key, s.previous]),
      [['net.ipv4.tcp_fin_timeout', '30']],
    );
  });

  it('writes no state when nothing drifts', async (t) => {
    const fx = await tree();
    t.after(() => fx.remove());
    const stateFile = join(fx.base, 'previous.json');
    const result = await applyPlan({ changes: [], skipped: [] }, { stateFile });
    assert.deepEqual(result, { written: [], failed: [] });
    assert.equal(await loadState(stateFile), null);
  });

  it('keeps going past a failed write and keeps the state file when a rollback write fails', async (t) => {
    const fx = await tree();
    t.after(() => fx.remove());
    const stateFile = join(fx.base, 'previous.json');
    const plan: ApplyPlan = {
      changes: [
        { key: 'not.writable', path: fx.procSys, from: 'x', to: 'y' }, // a directory: EISDIR
        { key: 'net.ipv4.tcp_fin_timeout', path: join(fx.procSys, 'net/ipv4/tcp_fin_timeout'), from: '60', to: '15' },
      ],
      skipped: [],
    };
    const result = await applyPlan(plan, { stateFile });
    assert.deepEqual(
      result.failed.map((f) => [f.key, f.error]),
      [['not.writable', 'EISDIR']],
    );
    assert.deepEqual(
      result.written.map((w) => w.key),
      ['net.ipv4.tcp_fin_timeout'],
    );

    const back = await rollbackSettings(stateFile);
    assert.deepEqual(
      back.failed.map((f) => f.key),
      ['not.writable'],
    );
    assert.equal(back.stateRemoved, false);
    assert.equal(await fx.read('procSys', 'net/ipv4/tcp_fin_timeout'), '60\n');
    assert.notEqual(await loadState(stateFile), null);
  });

  it('keeps no state when every write fails, so the next apply is not blocked', async (t) => {
    const fx = await tree();
    t.after(() => fx.remove());
    const stateFile = join(fx.base, 'previous.json');
    const result = await applyPlan(
      { changes: [{ key: 'not.writable', path: fx.procSys, from: 'x', to: 'y' }], skipped: [] },
      { stateFile },
    );
    assert.deepEqual([result.written, result.failed.length], [[], 1]);
    assert.equal(await loadState(stateFile), null);
  });

  it('refuses a state file that is not one', async (t) => {
    const fx = await tree();
    t.after(() => fx.remove());
    const stateFile = join(fx.base, 'previous.json');
    await writeFile(stateFile, '{"version":2}');
    await assert.rejects(rollbackSettings(stateFile), StateFileInvalid);
    await writeFile(stateFile, 'not json');
    await assert.rejects(rollbackSettings(stateFile), StateFileInvalid);
  });
});
