import type { Pool } from '#libs/db';

/**
 * Postgres' own counters over a window: the sandbox database's transactions and row changes (pg_stat_database), and
 * the cluster's WAL (pg_stat_wal: cluster-wide, so other databases' work counts too). Backends report their counters
 * when they go idle, at most once a second, so the edges of a short window are blurred by up to a second.
 */
export interface PgWindow {
  readonly commits: number;
  readonly rollbacks: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  readonly walRecords: number;
  readonly walBytes: number;
  /** WAL flushes to disk (fsync/fdatasync): with synchronous_commit on, about one per committing group of backends. */
  readonly walSyncs: number;
}

interface Counters {
  readonly [key: string]: number;
}

async function read(pool: Pool): Promise<Counters> {
  const { rows } = await pool.query<Record<string, string>>(
    `SELECT d.xact_commit AS commits, d.xact_rollback AS rollbacks, d.tup_inserted AS inserted,
            d.tup_updated AS updated, d.tup_deleted AS deleted,
            w.wal_records AS "walRecords", w.wal_bytes AS "walBytes", w.wal_sync AS "walSyncs"
       FROM pg_stat_database d, pg_stat_wal w
      WHERE d.datname = current_database()`,
  );
  const row = rows[0] ?? {};
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, Number(value)]));
}

/** Starts a window; the returned function ends it and returns the differences. */
export async function measurePg(pool: Pool): Promise<() => Promise<PgWindow>> {
  const before = await read(pool);
  return async () => {
    const after = await read(pool);
    const delta = (key: keyof PgWindow) => (after[key] ?? Number.NaN) - (before[key] ?? Number.NaN);
    return {
      commits: delta('commits'),
      rollbacks: delta('rollbacks'),
      inserted: delta('inserted'),
      updated: delta('updated'),
      deleted: delta('deleted'),
      walRecords: delta('walRecords'),
      walBytes: delta('walBytes'),
      walSyncs: delta('walSyncs'),
    };
  };
}
