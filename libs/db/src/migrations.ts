import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { quoteIdent, redact, splitDatabaseUrl } from './database-url.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
  /** Checksums of earlier texts of this file that a database may have applied instead (`-- supersedes-checksum:`). */
  readonly supersedes: readonly string[];
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/**
 * A migration whose first text was wrong in a way a later migration cannot repair (it destroyed data) is corrected in
 * place, and names the checksum of the text it replaces on a line of its own. A database that applied the earlier
 * text is accepted as it is (the later migrations must then work on either outcome); any other edit still stops the
 * run.
 */
const SUPERSEDES_PATTERN = /^-- supersedes-checksum: ([0-9a-f]{64})$/gm;

/**
 * Reads `NNNN_name.sql` files in order; any other file in the folder is an error, not silently ignored. Folders are
 * other databases' migrations (`vector/`).
 */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir, { withFileTypes: true }))
    .filter((f) => !f.isDirectory() && !f.name.startsWith('.') && f.name !== 'README.md')
    .map((f) => f.name)
    .sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new MigrationError(`${file}: migration files are named NNNN_snake_case.sql`);
    const sql = await readFile(join(dir, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new MigrationError(`${file}: version ${version} is used twice`);
    }
    const supersedes = [...sql.matchAll(SUPERSEDES_PATTERN)].map((m) => m[1] as string);
    migrations.push({ version, name: file, sql, checksum: createHash('sha256').update(sql).digest('hex'), supersedes });
  }
  return migrations;
}

/** Creates the database the URL names if the server lacks it; safe when several processes race to do so. */
export async function ensureDatabase(databaseUrl: string, options: { template?: string } = {}): Promise<boolean> {
  const { database, maintenanceUrl } = splitDatabaseUrl(databaseUrl);
  const client = new pg.Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount) return false;
    const template = options.template ? ` TEMPLATE ${quoteIdent(options.template)}` : '';
    await client.query(`CREATE DATABASE ${quoteIdent(database)}${template}`);
    return true;
  } catch (error) {
    // Created meanwhile by another process: 42P04 if it saw the database, 23505 if both inserted it at once.
    const code = (error as { code?: string }).code;
    if (code === '42P04' || code === '23505') return false;
    throw error;
  } finally {
    await client.end();
  }
}

/** Drops the database the URL names, closing its sessions (tests and benchmarks clean up with it). */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const { database, maintenanceUrl } = splitDatabaseUrl(databaseUrl);
  const client = new pg.Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export interface MigrationReport {
  readonly database: string;
  readonly created: boolean;
  readonly applied: string[];
  readonly alreadyApplied: number;
}

/**
 * Applies each pending migration once, each in its own transaction together with its bookkeeping row. An advisory
 * lock serialises concurrent runners (several roles starting at once); an applied file that was edited afterwards
 * stops the run, because the database no longer matches what the file says, unless the file declares that it
 * supersedes the text that was applied.
 */
export async function migrate(databaseUrl: string, dir: string): Promise<MigrationReport> {
  const migrations = await readMigrations(dir);
  const created = await ensureDatabase(databaseUrl);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'migrate' });
  await client.connect().catch((error: Error) => {
    throw new MigrationError(`cannot connect to ${redact(databaseUrl)}: ${error.message}`);
  });
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('orchestrator.schema_migrations'))");
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Map(
      (
        await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations')
      ).rows.map((r) => [r.version, r.checksum]),
    );
    const applied: string[] = [];
    for (const migration of migrations) {
      const checksum = done.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum && !migration.supersedes.includes(checksum)) {
          throw new MigrationError(`${migration.name} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(`${migration.name} failed and was rolled back: ${(error as Error).message}`);
      }
      applied.push(migration.name);
    }
    return { database: splitDatabaseUrl(databaseUrl).database, created, applied, alreadyApplied: done.size };
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext('orchestrator.schema_migrations'))").catch(() => undefined);
    await client.end();
  }
}
