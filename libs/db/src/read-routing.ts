import type pg from 'pg';
import { isDatabaseOutage } from './db-errors.js';
import { parseLsn, replicaServes } from './wal-lsn.js';

export interface ReplicaLag {
  /** Since the last commit the replica replayed; 0 when it has replayed everything it received. */
  readonly seconds: number;
  /** The primary's WAL position minus the replica's replay position. */
  readonly bytes: number;
}

/**
 * Sends reads to a streaming replica when there is one, with read-your-writes for clients that ask for it: a write
 * hands out a consistency token (the primary's WAL position after its commit), and a read that brings one back goes
 * to the replica only once the replica has replayed that far, else to the primary. A read the replica cannot answer
 * (it finds nothing where the caller expects something, or the replica is unreachable) is asked of the primary.
 * Without a replica every read goes to the primary and no token is handed out.
 */
export class ReadRouting {
  /** The furthest replay position seen on the replica: positions only grow, so a token at or below it needs no ask. */
  private replayed: bigint | undefined;
  private replayAsk: Promise<bigint | undefined> | undefined;
  private tokenAsk: Promise<string | undefined> | undefined;
  private nextTokenAsk: Promise<string | undefined> | undefined;

  constructor(
    private readonly primary: pg.Pool,
    private readonly replica: pg.Pool | undefined,
  ) {}

  get hasReplica(): boolean {
    return this.replica !== undefined;
  }

  /**
   * The token of a write that has committed: the primary's WAL position now, which is at or past the commit's end.
   * Concurrent callers share one query, but only one that started after they asked (an earlier one could read a
   * position before their commit). Undefined without a replica, or when the primary does not answer (the write
   * stands; its reader then goes by the 404 fallback).
   */
  writeToken(): Promise<string | undefined> {
    if (!this.replica) return Promise.resolve(undefined);
    if (!this.tokenAsk) return this.askToken();
    this.nextTokenAsk ??= this.tokenAsk.then(() => {
      this.nextTokenAsk = undefined;
      return this.askToken();
    });
    return this.nextTokenAsk;
  }

  private askToken(): Promise<string | undefined> {
    // The write position covers a commit that was flushed (synchronous_commit on, the platform's setting); with it
    // off a commit may still be only inserted, so the insert position is the safe one. Not the insert position
    // always: on an idle primary it points past the next page's header, which a replica reaches only with the next
    // write.
    const ask: Promise<string | undefined> = this.primary
      .query<{ lsn: string }>(
        `SELECT (CASE WHEN current_setting('synchronous_commit') = 'off' THEN pg_current_wal_insert_lsn()
                      ELSE pg_current_wal_lsn() END)::text AS lsn`,
      )
      .then(
        ({ rows }) => rows[0]?.lsn,
        () => undefined,
      )
      .finally(() => {
        if (this.tokenAsk === ask) this.tokenAsk = undefined;
      });
    this.tokenAsk = ask;
    return ask;
  }

  /**
   * Runs `query` on the replica when it may answer a reader holding `token`, else on the primary. `found` says
   * whether the replica's answer holds what the caller looks for (a resource read by id): when it does not, the
   * primary is asked too, so a resource never reads as missing just because the replica is behind.
   */
  async read<T>(
    token: string | undefined,
    query: (db: pg.Pool) => Promise<T>,
    found: (result: T) => boolean = () => true,
  ): Promise<T> {
    if (!this.replica || !(await this.replicaServes(token))) return query(this.primary);
    let result: T;
    try {
      result = await query(this.replica);
    } catch (error) {
      // The replica is down or restarting, or replay cancelled the read (a conflict with recovery, 40001): the
      // primary still answers.
      if (isDatabaseOutage(error) || (error as { code?: unknown }).code === '40001') return query(this.primary);
      throw error;
    }
    return found(result) ? result : query(this.primary);
  }

  private async replicaServes(token: string | undefined): Promise<boolean> {
    if (token === undefined) return true;
    const wanted = parseLsn(token);
    // Something that is not a position cannot be checked: the primary is always current.
    if (wanted === undefined) return false;
    if (replicaServes(wanted, this.replayed)) return true;
    return replicaServes(wanted, await this.replayPosition());
  }

  /** Asks the replica how far it has replayed; concurrent askers share one query. */
  private replayPosition(): Promise<bigint | undefined> {
    this.replayAsk ??= (this.replica as pg.Pool)
      .query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')
      .then(
        ({ rows }) => {
          const lsn = parseLsn(rows[0]?.lsn);
          if (lsn !== undefined && (this.replayed === undefined || lsn > this.replayed)) this.replayed = lsn;
          return lsn;
        },
        () => undefined,
      )
      .finally(() => {
        this.replayAsk = undefined;
      });
    return this.replayAsk;
  }

  /**
   * How far the replica is behind; undefined without a replica or when it cannot be measured (a server down, or
   * one that is not replaying).
   */
  async lag(): Promise<ReplicaLag | undefined> {
    if (!this.replica) return undefined;
    try {
      const [{ rows: replica }, { rows: primary }] = await Promise.all([
        this.replica.query<{ seconds: number | null; replayed: string | null }>(
          `SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                       ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END AS seconds,
                  pg_last_wal_replay_lsn()::text AS replayed`,
        ),
        this.primary.query<{ current: string }>('SELECT pg_current_wal_lsn()::text AS current'),
      ]);
      const replayed = parseLsn(replica[0]?.replayed);
      const current = parseLsn(primary[0]?.current);
      if (replayed === undefined || current === undefined) return undefined;
      if (this.replayed === undefined || replayed > this.replayed) this.replayed = replayed;
      return {
        seconds: Math.max(0, replica[0]?.seconds ?? 0),
        bytes: Math.max(0, Number(current - replayed)),
      };
    } catch {
      return undefined;
    }
  }

  /** Ends the replica's pool (the primary's belongs to whoever created it). */
  async close(): Promise<void> {
    await this.replica?.end();
  }
}
