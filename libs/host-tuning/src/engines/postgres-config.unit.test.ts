import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '#test/support/processes.js';
import { parseMemorySize } from './machine-size.js';
import {
  formatMemory,
  postgresSettings,
  REFERENCE_MACHINE,
  renderPostgresConf,
  type PostgresMachine,
} from './postgres-config.js';

const GIB = 1024 ** 3;
const machine = (gib: number, cpus = 8, maxConnections = 200): PostgresMachine => ({
  memoryBytes: gib * GIB,
  cpus,
  maxConnections,
});
const settings = (m: PostgresMachine) => new Map(postgresSettings(m).map((s) => [s.name, s.value]));
/** Memory values back to bytes, to compare them as numbers. */
const bytes = (value: string | undefined) => parseMemorySize((value ?? '').replace(/kB$/, 'K'));

const MEMORY_SETTINGS = [
  'shared_buffers',
  'effective_cache_size',
  'work_mem',
  'maintenance_work_mem',
  'wal_buffers',
  'min_wal_size',
  'max_wal_size',
];

describe('postgresSettings', () => {
  it('at 2, 24 and 256 GiB: memory settings grow with the machine, never shrink', () => {
    const [small, medium, large] = [2, 24, 256].map((gib) => settings(machine(gib)));
    for (const name of MEMORY_SETTINGS) {
      const [a, b, c] = [small, medium, large].map((s) => bytes(s?.get(name)));
      assert.ok(a! <= b! && b! <= c!, `${name}: ${a} <= ${b} <= ${c}`);
    }
    assert.ok(bytes(medium?.get('shared_buffers')) > bytes(small?.get('shared_buffers')));
    assert.ok(bytes(large?.get('effective_cache_size')) > bytes(medium?.get('effective_cache_size')));
  });

  it('scales shared_buffers to ~25% and effective_cache_size to ~75% of RAM, within their caps', () => {
    for (const gib of [2, 24, 64]) {
      const s = settings(machine(gib));
      const share = (name: string) => bytes(s.get(name)) / (gib * GIB);
      assert.ok(Math.abs(share('shared_buffers') - 0.25) < 0.01, `${gib} GiB shared_buffers`);
      assert.ok(Math.abs(share('effective_cache_size') - 0.75) < 0.01, `${gib} GiB effective_cache_size`);
    }
    const large = settings(machine(256));
    assert.equal(bytes(large.get('shared_buffers')), 32 * GIB);
    assert.ok(bytes(large.get('maintenance_work_mem')) <= 2 * GIB);
    assert.ok(bytes(large.get('work_mem')) <= 64 * 1024 ** 2);
    assert.ok(bytes(large.get('wal_buffers')) <= 16 * 1024 ** 2);
    assert.ok(bytes(large.get('max_wal_size')) <= 16 * GIB);
  });

  it('gives each connection less work_mem when there are more of them, and never below 4MB', () => {
    const few = bytes(settings(machine(24, 8, 50)).get('work_mem'));
    const many = bytes(settings(machine(24, 8, 400)).get('work_mem'));
    assert.ok(few > many);
    assert.equal(bytes(settings(machine(2, 8, 5000)).get('work_mem')), 4 * 1024 ** 2);
  });

  it('derives worker counts from the cores', () => {
    const two = settings(machine(24, 2));
    const many = settings(machine(24, 64));
    assert.equal(two.get('max_parallel_workers'), '2');
    assert.equal(two.get('max_worker_processes'), '8');
    assert.equal(many.get('max_worker_processes'), '64');
    assert.equal(many.get('max_parallel_workers_per_gather'), '4');
    for (const s of [two, many])
      assert.ok(Number(s.get('max_parallel_workers')) <= Number(s.get('max_worker_processes')));
  });

  it('keeps durability on, whatever the machine', () => {
    for (const gib of [2, 24, 256]) {
      const s = settings(machine(gib));
      assert.equal(s.get('synchronous_commit'), 'on');
      assert.equal(s.get('fsync'), 'on');
      assert.equal(s.get('full_page_writes'), 'on');
    }
  });

  it('writes valid units, one setting once, each with its reason', () => {
    for (const gib of [2, 24, 256]) {
      const list = postgresSettings(machine(gib));
      assert.equal(new Set(list.map((s) => s.name)).size, list.length);
      for (const name of MEMORY_SETTINGS) {
        assert.match(list.find((s) => s.name === name)?.value ?? '', /^[1-9]\d*(kB|MB|GB|TB)$/, name);
      }
      for (const s of list) assert.ok(s.why.length > 20, `${s.name} has a reason`);
    }
  });

  it('refuses machines it cannot size', () => {
    assert.throws(() => postgresSettings(machine(0.5)), /at least 1 GiB/);
    assert.throws(() => postgresSettings(machine(8, 0)), /at least 1 is needed/);
    assert.throws(() => postgresSettings(machine(8, 2, 3)), /between 10 and 10000/);
  });
});

describe('formatMemory', () => {
  it('uses the largest exact unit, whole MB', () => {
    assert.equal(formatMemory(2 * GIB), '2GB');
    assert.equal(formatMemory(1536 * 1024 ** 2), '1536MB');
    assert.equal(formatMemory(1536 * 1024 ** 2 + 12345), '1536MB');
    assert.equal(formatMemory(1024 * GIB), '1TB');
    assert.equal(formatMemory(200 * 1024), '192kB');
  });
});

describe('infra/postgres/postgresql.orchestrator.conf', () => {
  it("is the generator's output for the reference machine (regenerate it after changing the generator)", async () => {
    const committed = await readFile(join(REPO_ROOT, 'infra/postgres/postgresql.orchestrator.conf'), 'utf8');
    assert.equal(committed, renderPostgresConf(REFERENCE_MACHINE));
  });
});
