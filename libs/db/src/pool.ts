import pg from 'pg';
import { trackResource } from '#libs/resources';

export type Pool = pg.Pool;

export interface PoolOptions {
  readonly name: string;
  readonly max?: number;
  /**
   * Postgres cancels a statement of this pool that runs longer (SQLSTATE 57014), so a runaway query or a lock that
   * is never released ties up one connection for at most this long. 0 or absent: no limit.
   */
  readonly statementTimeoutMs?: number;
  /**
   * The client gives up on a query after this long, whatever the server does (a server that stopped answering, or
   * one that ignores statement_timeout). The connection is then unusable and dropped; absent: no limit.
   */
  readonly queryTimeoutMs?: number;
  /** How long to wait for a connection (5 s when absent). */
  readonly connectionTimeoutMs?: number;
  /** Session settings sent at start-up (`-c name=value …`), so they cost no round trip and no extra query. */
  readonly startupOptions?: string;
}

/** A pg pool that shows up in the open-resources ledger until `end()` resolves. */
export function createPool(connectionString: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.name,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    ...(options.queryTimeoutMs ? { query_timeout: options.queryTimeoutMs } : {}),
    ...(options.startupOptions ? { options: options.startupOptions } : {}),
    // Sent as a start-up parameter, so it holds for every statement of every connection without a round trip.
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  });
  const release = trackResource('pg-pool', options.name);
  const end = pool.end.bind(pool);
  // pg's end() has a callback overload we never use; the promise form is the one callers get.
  pool.end = async () => {
    try {
      await end();
    } finally {
      release();
    }
  };
  // An idle client that loses its connection emits here; without a listener the process would crash.
  pool.on('error', () => undefined);
  // A checked-out client has no pool listener: when Postgres restarts under it (the connection ends while a
  // transaction holds it), its 'error' event would crash the process. Its pending query fails anyway, and the pool
  // drops a client whose connection ended when it comes back.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

/** Runs `work` in one transaction on one client; rolls back on any error and rethrows it. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
