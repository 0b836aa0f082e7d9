import type pg from 'pg';

/**
 * One holder among processes sharing a database, by a session-level advisory lock: the process whose connection
 * holds it leads until that connection ends (its process died, the database restarted), and the next asker takes
 * over. For work that must happen once per deployment rather than once per instance (one lag exporter among several
 * API processes). The lock is held on a connection taken from the pool for as long as this process leads.
 */
export class AdvisoryLeader {
  private held: pg.PoolClient | undefined;
  private asking: Promise<boolean> | undefined;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    /** Names the role: processes asking with the same name compete for one lock. */
    private readonly name: string,
  ) {}

  /** Whether this process leads now: checks the held connection, or tries to take the lock. Never throws. */
  isLeader(): Promise<boolean> {
    // Closed (shutting down): the pool is about to end, and a connection held now would keep it from ending.
    if (this.closed) return Promise.resolve(false);
    this.asking ??= this.ask().finally(() => {
      this.asking = undefined;
    });
    return this.asking;
  }

  private async ask(): Promise<boolean> {
    if (this.held) {
      try {
        await this.held.query('SELECT 1');
        return true;
      } catch {
        // The connection is gone, and the lock with it: someone else may lead now.
        this.held.release(true);
        this.held = undefined;
      }
    }
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const { rows } = await client.query<{ taken: boolean }>(
        "SELECT pg_try_advisory_lock(hashtext('orchestrator.leader'), hashtext($1)) AS taken",
        [this.name],
      );
      if (rows[0]?.taken) {
        this.held = client;
        return true;
      }
      client.release();
      return false;
    } catch {
      client?.release(true);
      return false;
    }
  }

  /** Gives the lead up (shutdown): another process takes over at its next ask. */
  async close(): Promise<void> {
    this.closed = true;
    await this.asking?.catch(() => undefined);
    const client = this.held;
    this.held = undefined;
    if (!client) return;
    // Ending the connection releases the lock; unlocking first spares the pool a broken connection.
    await client.query("SELECT pg_advisory_unlock(hashtext('orchestrator.leader'), hashtext($1))", [this.name]).then(
      () => client.release(),
      () => client.release(true),
    );
  }
}
