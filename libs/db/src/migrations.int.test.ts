import assert from 'node:assert/strict';
import { mkdtemp, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { useTestContext } from '#test/harness/test-context.js';
import { withDatabase } from './database-url.js';
import { MIGRATIONS_DIR } from './migrations-dir.js';
import { dropDatabase, migrate, MigrationError, readMigrations } from './migrations.js';

const ctx = useTestContext('migrations');

/** A database name no one has created yet: the runner must create it. */
const emptyDatabase = (suffix: string) => withDatabase(ctx.databaseUrl, `${ctx.id}_${suffix}`.slice(0, 63));

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  it('create the database, apply to it from empty, and re-run as a no-op', async () => {
    const url = emptyDatabase('fresh');
    ctx.defer(() => dropDatabase(url));
    const all = await readMigrations(MIGRATIONS_DIR);
    assert.ok(all.length > 0);

    const first = await migrate(url, MIGRATIONS_DIR);
    assert.equal(first.created, true);
    assert.deepEqual(
      first.applied,
      all.map((m) => m.name),
    );
    const tables = await query<{ table_name: string }>(
      url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema='public'",
    );
    assert.ok(tables.some((t) => t.table_name === 'outbox'));

    const second = await migrate(url, MIGRATIONS_DIR);
    assert.equal(second.created, false);
    assert.deepEqual(second.applied, []);
    const recorded = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM schema_migrations');
    assert.equal(Number(recorded[0]?.n), all.length);
  });

  it('roll a failing migration back whole and record nothing for it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    await writeFile(join(dir, '0001_ok.sql'), 'CREATE TABLE a (id int);');
    await writeFile(join(dir, '0002_broken.sql'), 'CREATE TABLE b (id int); SELECT no_such_function();');
    const url = emptyDatabase('broken');
    ctx.defer(() => dropDatabase(url));

    await assert.rejects(migrate(url, dir), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.match(error.message, /0002_broken\.sql failed and was rolled back/);
      return true;
    });
    const tables = (
      await query<{ table_name: string }>(
        url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema='public'",
      )
    ).map((t) => t.table_name);
    assert.ok(tables.includes('a'), 'the good migration stays applied');
    assert.ok(!tables.includes('b'), 'the broken one left nothing behind');
    const versions = await query<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      versions.map((v) => v.version),
      [1],
    );
  });

  it('refuse to go on when an applied migration was edited', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const url = emptyDatabase('edited');
    ctx.defer(() => dropDatabase(url));
    await migrate(url, dir);
    const [first] = await readMigrations(dir);
    await writeFile(join(dir, first?.name ?? ''), `${first?.sql ?? ''}\n-- edited`);
    await assert.rejects(migrate(url, dir), /was changed after it was applied/);
  });

  it('accept an applied earlier text that the corrected file names as superseded, and only that one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    const first = 'CREATE TABLE kept (id int); CREATE TABLE lost (id int); DROP TABLE lost;';
    await writeFile(join(dir, '0001_first.sql'), first);
    const url = emptyDatabase('superseded');
    ctx.defer(() => dropDatabase(url));
    await migrate(url, dir);

    const [applied] = await readMigrations(dir);
    const corrected = `-- supersedes-checksum: ${applied?.checksum ?? ''}\nCREATE TABLE kept (id int); CREATE TABLE lost (id int);`;
    await writeFile(join(dir, '0001_first.sql'), corrected);
    await writeFile(join(dir, '0002_next.sql'), 'CREATE TABLE IF NOT EXISTS lost (id int);');
    assert.deepEqual((await migrate(url, dir)).applied, ['0002_next.sql']);

    // A database that applied some other text of the file is still refused.
    const otherDir = await mkdtemp(join(tmpdir(), 'migrations-'));
    await writeFile(join(otherDir, '0001_first.sql'), `${first}\n-- another text`);
    const other = emptyDatabase('superseded_other');
    ctx.defer(() => dropDatabase(other));
    await migrate(other, otherDir);
    await assert.rejects(migrate(other, dir), /0001_first\.sql was changed after it was applied/);
  });

  it('apply once when several runners start at the same moment', async () => {
    const url = emptyDatabase('race');
    ctx.defer(() => dropDatabase(url));
    const reports = await Promise.all([1, 2, 3].map(() => migrate(url, MIGRATIONS_DIR)));
    const appliedCounts = reports.map((r) => r.applied.length).sort();
    const all = await readMigrations(MIGRATIONS_DIR);
    assert.deepEqual(appliedCounts, [0, 0, all.length]);
  });

  it('reject a misnamed file instead of skipping it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    await writeFile(join(dir, 'add_table.sql'), 'SELECT 1;');
    await assert.rejects(readMigrations(dir), /add_table\.sql: migration files are named NNNN_snake_case\.sql/);
  });
});
