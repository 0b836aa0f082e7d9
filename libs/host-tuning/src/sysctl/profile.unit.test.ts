import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isPerNetns } from './netns-scope.js';
import { parseSysctlProfile, parseTmpfilesWrites, ProfileError, sysctlRelativePath } from './profile.js';
import { DEFAULT_SYSCTL_PROFILE, DEFAULT_TMPFILES_PROFILE, loadSysctlProfile } from './profile-files.js';
import { HOST_ROOTS, settingPath } from './read-settings.js';

describe('parseSysctlProfile', () => {
  it('reads key = value lines, normalises whitespace and skips # and ; comments', () => {
    const settings = parseSysctlProfile(
      '# a comment\n; another\n\nnet.core.somaxconn=4096\nnet.ipv4.tcp_rmem =  4096\t87380   6291456 \n',
    );
    assert.deepEqual(
      settings.map((s) => [s.kind, s.key, s.relativePath, s.value, s.mode, s.source.line]),
      [
        ['sysctl', 'net.core.somaxconn', 'net/core/somaxconn', '4096', 'exact', 4],
        ['sysctl', 'net.ipv4.tcp_rmem', 'net/ipv4/tcp_rmem', '4096 87380 6291456', 'exact', 5],
      ],
    );
  });

  it('applies "# check: min" to the next setting only', () => {
    const settings = parseSysctlProfile('# check: min\n# why it matters\nfs.file-max = 100\nfs.nr_open = 200\n');
    assert.deepEqual(
      settings.map((s) => [s.key, s.mode]),
      [
        ['fs.file-max', 'min'],
        ['fs.nr_open', 'exact'],
      ],
    );
  });

  it('refuses min on a value that is not numbers, unknown modes, lines without "=", and a key set twice', () => {
    assert.throws(
      () => parseSysctlProfile('# check: min\nnet.core.default_qdisc = fq\n', 'p.conf'),
      /p.conf:2: "check: min" needs numbers/,
    );
    assert.throws(() => parseSysctlProfile('# check: max\nvm.swappiness = 1\n'), ProfileError);
    assert.throws(() => parseSysctlProfile('vm.swappiness 1\n'), /expected "key = value"/);
    assert.throws(() => parseSysctlProfile('vm.swappiness = 1\nvm/swappiness = 2\n'), /already set on line 1/);
    assert.throws(() => parseSysctlProfile('vm.swappiness =\n'), /has no value/);
  });

  it('follows sysctl.d key syntax: a leading "-", slashes, and dots inside names when the first separator is a slash', () => {
    assert.equal(parseSysctlProfile('-net.core.somaxconn = 1\n')[0]?.relativePath, 'net/core/somaxconn');
    assert.equal(sysctlRelativePath('net/ipv4/conf/eth0.100/rp_filter'), 'net/ipv4/conf/eth0.100/rp_filter');
    assert.equal(sysctlRelativePath('net.ipv4.conf.eth0/100.rp_filter'), 'net/ipv4/conf/eth0.100/rp_filter');
  });
});

describe('sysctl keys that are paths', () => {
  it('refuses keys that climb out of /proc/sys', () => {
    for (const key of ['../../etc/cron.d/x', '/../../etc/cron.d/x', 'net/../../../etc/x', 'kernel/./../../x']) {
      assert.throws(() => parseSysctlProfile(`${key} = 1\n`), /leaves \/proc\/sys/, key);
    }
  });

  it('keeps a setting built by hand under its root too', () => {
    const setting = { kind: 'sysfs', key: 'x', relativePath: '../etc/x', value: '1', mode: 'exact' } as const;
    assert.throws(() => settingPath({ ...setting, source: { file: 'f', line: 1 } }, HOST_ROOTS), /leaves \/sys/);
  });
});

describe('parseTmpfilesWrites', () => {
  it('reads "w /sys/..." lines as /sys settings', () => {
    const [thp] = parseTmpfilesWrites('# c\nw /sys/kernel/mm/transparent_hugepage/enabled - - - - never\n');
    assert.equal(thp?.kind, 'sysfs');
    assert.equal(thp?.relativePath, 'kernel/mm/transparent_hugepage/enabled');
    assert.equal(thp?.value, 'never');
  });

  it('refuses other line types and paths outside /sys', () => {
    assert.throws(() => parseTmpfilesWrites('d /run/x 0755 root root -\n'), /only "w \/sys\/…/);
    assert.throws(() => parseTmpfilesWrites('w /etc/x - - - - y\n'), /only "w \/sys\/…/);
  });

  it('refuses paths that climb out of /sys', () => {
    for (const path of ['/sys/../etc/x', '/sys/kernel/../../etc/x', '/sys/./../etc/x']) {
      assert.throws(() => parseTmpfilesWrites(`w ${path} - - - - y\n`), /leaves \/sys/, path);
    }
  });
});

// The shipped profile against the kernel this runs on.
describe('infra/host-tuning profile', () => {
  const REMOVED_OR_BOGUS = [
    'net.ipv4.tcp_tw_recycle',
    'net.ipv4.tcp_fack',
    'net.ipv4.tcp_low_latency',
    'net.ipv4.tcp_delack_min',
    'net.ipv4.tcp_rfs_entries',
    'net.ipv4.tcp_mem',
    'net.ipv4.tcp_max_tw_buckets',
    'kernel.sched_migration_cost_ns',
  ];

  it('has every active sysctl key on this running kernel (/proc/sys)', async () => {
    const settings = parseSysctlProfile(await readFile(DEFAULT_SYSCTL_PROFILE, 'utf8'));
    assert.ok(settings.length >= 25, `only ${settings.length} settings parsed`);
    const absent: string[] = [];
    for (const s of settings) await access(join('/proc/sys', s.relativePath)).catch(() => absent.push(s.key));
    assert.deepEqual(absent, []);
  });

  it('has every /sys path of the tmpfiles.d file on this machine', async () => {
    const settings = parseTmpfilesWrites(await readFile(DEFAULT_TMPFILES_PROFILE, 'utf8'));
    assert.ok(settings.length >= 2);
    for (const s of settings) await access(join('/sys', s.relativePath));
  });

  it('sets none of the removed, no-op or bogus keys (they are only explained in comments)', async () => {
    const text = await readFile(DEFAULT_SYSCTL_PROFILE, 'utf8');
    const active = new Set(parseSysctlProfile(text).map((s) => s.key));
    for (const key of REMOVED_OR_BOGUS) {
      assert.ok(!active.has(key), `${key} is an active line`);
      assert.ok(text.includes(`# ${key}`), `${key} has no comment saying why it is left out`);
    }
  });

  it('asks for a congestion control the running kernel offers', async () => {
    const settings = await loadSysctlProfile({ sysctl: DEFAULT_SYSCTL_PROFILE });
    const wanted = settings.find((s) => s.key === 'net.ipv4.tcp_congestion_control')?.value;
    const available = (await readFile('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8')).split(/\s+/);
    assert.ok(wanted && available.includes(wanted), `${wanted} not in ${available.join(' ')}`);
  });

  it('classifies the per-network-namespace keys as the kernel does', async () => {
    const settings = await loadSysctlProfile({ sysctl: DEFAULT_SYSCTL_PROFILE, tmpfiles: DEFAULT_TMPFILES_PROFILE });
    const perNetns = new Set(settings.filter(isPerNetns).map((s) => s.key));
    for (const key of [
      'net.core.somaxconn',
      'net.ipv4.tcp_rmem',
      'net.ipv4.ip_local_port_range',
      'net.ipv4.tcp_fastopen',
    ]) {
      assert.ok(perNetns.has(key), `${key} should be per namespace`);
    }
    for (const key of [
      'net.core.rmem_max',
      'net.core.netdev_max_backlog',
      'net.core.default_qdisc',
      'fs.file-max',
      'vm.swappiness',
      '/sys/kernel/mm/transparent_hugepage/enabled',
    ]) {
      assert.ok(!perNetns.has(key), `${key} is global`);
    }
  });
});
