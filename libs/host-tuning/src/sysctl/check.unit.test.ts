import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planApply } from './apply.js';
import { checkSettings } from './check.js';
import { compareSetting, currentValue, summariseCheck } from './compare.js';
import { fixtureTree } from './fixture-tree.test-support.js';
import { parseSysctlProfile, parseTmpfilesWrites } from './profile.js';
import { HOST_ROOTS } from './read-settings.js';

const PROFILE = `
net.core.somaxconn = 4096
net.ipv4.tcp_rmem = 4096 131072 6291456
net.ipv4.tcp_fin_timeout = 15
net.ipv4.tcp_gone_in_this_kernel = 1
vm.swappiness = 1
# check: min
fs.file-max = 1048576
# check: min
fs.nr_open = 1048576
# check: min
net.ipv4.tcp_wmem = 4096 65536 16777216
`;
const THP = 'w /sys/kernel/mm/transparent_hugepage/enabled - - - - never\n';

const settings = [...parseSysctlProfile(PROFILE), ...parseTmpfilesWrites(THP)];

describe('checkSettings against a fixture /proc/sys and /sys', () => {
  it('reports ok, drift, unsupported and unreadable, with min semantics, whitespace and bracket choices', async (t) => {
    const tree = await fixtureTree(
      {
        'net/core/somaxconn': '4096',
        'net/ipv4/tcp_rmem': '4096\t131072\t6291456', // the kernel separates vector fields with tabs
        'net/ipv4/tcp_fin_timeout': '60',
        'vm/swappiness': { dir: true },
        'fs/file-max': '9223372036854775807', // higher than ours: fine for a minimum (and beyond 2^53)
        'fs/nr_open': '1024',
        'net/ipv4/tcp_wmem': '4096\t16384\t33554432', // middle field lower, max higher
      },
      { 'kernel/mm/transparent_hugepage/enabled': 'always madvise [never]' },
    );
    t.after(() => tree.remove());
    const rows = await checkSettings(settings, tree);
    const byKey = Object.fromEntries(rows.map((r) => [r.setting.key, r]));
    assert.deepEqual(
      rows.map((r) => [r.setting.key, r.status, r.have]),
      [
        ['net.core.somaxconn', 'ok', '4096'],
        ['net.ipv4.tcp_rmem', 'ok', '4096 131072 6291456'],
        ['net.ipv4.tcp_fin_timeout', 'drift', '60'],
        ['net.ipv4.tcp_gone_in_this_kernel', 'unsupported', null],
        ['vm.swappiness', 'unreadable', null],
        ['fs.file-max', 'ok', '9223372036854775807'],
        ['fs.nr_open', 'drift', '1024'],
        ['net.ipv4.tcp_wmem', 'drift', '4096 16384 33554432'],
        ['/sys/kernel/mm/transparent_hugepage/enabled', 'ok', 'never'],
      ],
    );
    assert.equal(byKey['vm.swappiness']?.error, 'EISDIR');
    // A minimum raises only the lower fields: apply must not shrink the 32 MiB maximum the host already has.
    assert.equal(byKey['net.ipv4.tcp_wmem']?.target, '4096 65536 33554432');
    assert.equal(byKey['fs.nr_open']?.target, '1048576');
    assert.deepEqual(summariseCheck(rows), { ok: 4, drift: 3, unsupported: 1, unreadable: 1 });

    const plan = planApply(rows, tree);
    assert.deepEqual(
      plan.changes.map((c) => [c.key, c.from, c.to, c.path.startsWith(tree.procSys)]),
      [
        ['net.ipv4.tcp_fin_timeout', '60', '15', true],
        ['fs.nr_open', '1024', '1048576', true],
        ['net.ipv4.tcp_wmem', '4096 16384 33554432', '4096 65536 33554432', true],
      ],
    );
    assert.deepEqual(plan.skipped, [
      { key: 'net.ipv4.tcp_gone_in_this_kernel', status: 'unsupported' },
      { key: 'vm.swappiness', status: 'unreadable', error: 'EISDIR' },
    ]);
  });

  it('sees drift in a /sys choice file whose bracketed choice differs, and a missing one as unsupported', async (t) => {
    const tree = await fixtureTree({}, { 'kernel/mm/transparent_hugepage/enabled': 'always [madvise] never' });
    t.after(() => tree.remove());
    const [thp] = await checkSettings(parseTmpfilesWrites(THP), tree);
    assert.deepEqual([thp?.status, thp?.have, thp?.target], ['drift', 'madvise', 'never']);
    await tree.remove();
    const [gone] = await checkSettings(parseTmpfilesWrites(THP), tree);
    assert.equal(gone?.status, 'unsupported');
  });

  it('reports a key /proc/sys refuses to read (EACCES, even for root) as unreadable, without writing it', async () => {
    // route.flush is write-only (mode 0200); reading it is harmless, and /proc/sys enforces the mode for root too.
    const [flush] = await checkSettings(parseSysctlProfile('net.ipv4.route.flush = 1\n'), HOST_ROOTS);
    assert.equal(flush?.status, 'unreadable');
    assert.equal(flush?.error, 'EACCES');
  });
});

describe('compareSetting', () => {
  const [exact, min] = parseSysctlProfile(
    'net.ipv4.ip_local_port_range = 10240 65535\n# check: min\nvm.max_map_count = 262144\n',
  );
  it('compares exact values after normalising whitespace', () => {
    assert.equal(compareSetting(exact!, { state: 'value', raw: '10240\t65535\n' }).status, 'ok');
    assert.equal(compareSetting(exact!, { state: 'value', raw: '10240 65534\n' }).status, 'drift');
  });
  it('treats a minimum as met by equal or higher values, and a non-number as drift', () => {
    assert.equal(compareSetting(min!, { state: 'value', raw: '262144\n' }).status, 'ok');
    assert.equal(compareSetting(min!, { state: 'value', raw: '1000000\n' }).status, 'ok');
    assert.equal(compareSetting(min!, { state: 'value', raw: '262143\n' }).status, 'drift');
    assert.deepEqual(
      [
        compareSetting(min!, { state: 'value', raw: 'garbage\n' }).status,
        compareSetting(min!, { state: 'value', raw: 'garbage\n' }).target,
      ],
      ['drift', '262144'],
    );
  });
  it('takes the bracketed choice of a /sys choice file', () => {
    assert.equal(currentValue('always defer defer+madvise [madvise] never\n'), 'madvise');
    assert.equal(currentValue('  fq\n'), 'fq');
  });
});
