import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { useTestContext } from '#test/harness/test-context.js';
import { parseMemorySize } from './machine-size.js';
import { postgresSettings, renderPostgresConf, type PostgresMachine } from './postgres-config.js';

const run = promisify(execFile);
const ctx = useTestContext('postgres-config');
const GIB = 1024 ** 3;

/** What `postgres -C` prints: integers in the setting's base unit (8kB pages, kB, MB, s, ms), everything else as is. */
function inBaseUnit(value: string, unit: string | null): string {
  if (!unit) return value;
  const memory = /^(\d+)(kB|MB|GB|TB)$/.exec(value);
  if (memory) {
    const perUnit = { '8kB': 8 * 1024, kB: 1024, MB: 1024 ** 2 }[unit];
    assert.ok(perUnit, `unexpected memory unit ${unit}`);
    return String(parseMemorySize(`${memory[1]}${memory[2] === 'kB' ? 'K' : memory[2]}`) / perUnit);
  }
  const time = /^(\d+)(ms|s|min|h)$/.exec(value);
  if (time) {
    const ms = Number(time[1]) * { ms: 1, s: 1000, min: 60_000, h: 3_600_000 }[time[2] as 'ms'];
    return String(ms / { ms: 1, s: 1000, min: 60_000 }[unit as 'ms']);
  }
  return value;
}

describe('generated postgresql.conf against a real PostgreSQL', () => {
  let bindir = '';
  let dir = '';
  const client = new pg.Client({ connectionString: ctx.databaseUrl });

  before(async () => {
    bindir = (await run('pg_config', ['--bindir'])).stdout.trim();
    await client.connect();
    // A throwaway cluster, so the generated file is parsed by the real server without touching the machine's one.
    // initdb and postgres refuse to run as root: the postgres user owns the directory.
    dir = await mkdtemp(join(tmpdir(), 'orchestrator-pgconf-'));
    const { uid, gid } = await userIds('postgres');
    await chown(dir, uid, gid);
    await run('runuser', ['-u', 'postgres', '--', join(bindir, 'initdb'), '-D', join(dir, 'data'), '-A', 'trust']);
    await appendFile(join(dir, 'data/postgresql.conf'), "\ninclude 'orchestrator.conf'\n");
  });

  /** `postgres -C` parses the throwaway cluster's whole configuration (a bad value anywhere fails it), prints one. */
  const showSetting = (name: string) =>
    run('runuser', ['-u', 'postgres', '--', join(bindir, 'postgres'), '-D', join(dir, 'data'), '-C', name]);

  after(async () => {
    await client.end();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [gib, cpus, maxConnections] of [
    [2, 1, 50],
    [24, 2, 200],
    [256, 64, 1000],
  ] as const) {
    it(`${gib} GiB, ${cpus} CPUs, ${maxConnections} connections: every name exists and the server reads every value as written`, async () => {
      const machine: PostgresMachine = { memoryBytes: gib * GIB, cpus, maxConnections };
      const settings = postgresSettings(machine);
      const { rows } = await client.query<{ name: string; unit: string | null }>(
        'SELECT name, unit FROM pg_settings WHERE name = ANY($1)',
        [settings.map((s) => s.name)],
      );
      const units = new Map(rows.map((r) => [r.name, r.unit]));
      assert.deepEqual(
        settings.map((s) => s.name).filter((name) => !units.has(name)),
        [],
        'names missing from pg_settings',
      );
      const conf = join(dir, 'data/orchestrator.conf');
      await writeFile(conf, renderPostgresConf(machine));
      const { uid, gid } = await userIds('postgres');
      await chown(conf, uid, gid);
      for (const s of settings) {
        const { stdout } = await showSetting(s.name);
        assert.equal(stdout.trim(), inBaseUnit(s.value, units.get(s.name) ?? null), `${s.name} = ${s.value}`);
      }
    });
  }

  it('the throwaway cluster refuses a bad value (so the checks above can fail)', async () => {
    const conf = join(dir, 'data/orchestrator.conf');
    await writeFile(conf, "shared_buffers = '12 parsecs'\n");
    await assert.rejects(showSetting('shared_buffers'), /invalid value for parameter "shared_buffers"/);
  });
});

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all(
    ['-u', '-g'].map(async (flag) => Number((await run('id', [flag, name])).stdout)),
  );
  return { uid: uid ?? -1, gid: gid ?? -1 };
}
