import type pg from 'pg';
import { isDatabaseOutage } from './db-errors.js';

/** What a batch writer says about one request: its answer, its error, or work to do on the connection after commit. */
export type GroupOutcome<R> =
  | { readonly kind: 'done'; readonly value: R }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'after_commit'; readonly run: (client: pg.PoolClient) => Promise<R> };

export interface GroupCommitOptions<Q, R> {
  /**
   * Writes the batch inside an open transaction and returns one outcome per request, in order. `afterCommit` registers
   * work to do once this batch's transaction committed (not if it rolled back).
   */
  readonly write: (
    client: pg.PoolClient,
    requests: readonly Q[],
    afterCommit: (work: () => void) => void,
  ) => Promise<GroupOutcome<R>[]>;
  readonly maxBatch: number;
  /** Batches in flight at once: enough to keep Postgres busy while one commits, few enough to leave pool room. */
  readonly maxConcurrent: number;
  /**
   * Requests that may wait for a batch. Past this, `submit` rejects at once with `overloaded()`: a database that does
   * not keep up should slow clients down (503, retry later), not grow a queue until memory or their timeouts run out.
   */
  readonly maxQueued?: number;
  readonly overloaded?: () => Error;
  /** Runs after each commit (e.g. one coalesced outbox wake-up instead of a NOTIFY per transaction). */
  readonly afterCommit?: () => void;
  /** Turns a failure (pool, connection, statement) into what each request it failed is rejected with. */
  readonly unavailable: (error: unknown) => unknown;
  /**
   * A statement without parameters to run first in each transaction. It travels with BEGIN in one simple query (which
   * takes several statements): each round trip to Postgres costs the one event loop a socket write and a wake-up.
   */
  readonly begin?: string;
}

interface Pending<Q, R> {
  readonly request: Q;
  resolve(value: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit: requests that arrive while a batch is being written wait for the next one, so under load many share
 * one transaction and one fsync instead of paying for one each; a lone request is written at once. A request's
 * promise settles only after its transaction committed or rolled back, so an answer always means durable.
 *
 * Requests of any workspace share a batch, so one request the database refuses must not fail the others: a batch
 * that fails for its data is written again in halves, down to the request that fails alone (log2 of the batch in
 * extra transactions, not one per request). A failure of the database itself fails the batch whole.
 */
export class GroupCommit<Q, R> {
  private queue: Pending<Q, R>[] = [];
  private running = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: GroupCommitOptions<Q, R>,
  ) {}

  submit(request: Q): Promise<R> {
    if (this.queue.length >= (this.options.maxQueued ?? Infinity)) {
      return Promise.reject(this.options.overloaded?.() ?? new Error('too many requests waiting for a group commit'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < this.options.maxConcurrent && this.queue.length) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.running++;
      void this.write(batch).finally(() => {
        this.running--;
        this.drain();
      });
    }
  }

  private async write(batch: readonly Pending<Q, R>[]): Promise<void> {
    const client = await this.pool.connect().catch((error: unknown) => {
      batch.forEach((p) => p.reject(this.options.unavailable(error)));
      return undefined;
    });
    if (!client) return;
    let broken: Error | undefined;
    try {
      broken = await this.settle(client, batch);
    } finally {
      // A connection whose rollback failed is in an unknown state: destroyed rather than handed to the next user.
      client.release(broken);
    }
  }

  /** Writes `batch`, splitting it while it fails for its data; the error when the connection broke on the way. */
  private async settle(client: pg.PoolClient, batch: readonly Pending<Q, R>[]): Promise<Error | undefined> {
    const failure = await this.attempt(client, batch);
    if (!failure) return undefined;
    if (failure.broken || batch.length === 1 || isDatabaseOutage(failure.error)) {
      batch.forEach((p) => p.reject(this.options.unavailable(failure.error)));
      return failure.broken ? (failure.error as Error) : undefined;
    }
    const middle = Math.ceil(batch.length / 2);
    // In order, so the requests keep the order they arrived in (sequence numbers of one workflow follow it).
    return (await this.settle(client, batch.slice(0, middle))) ?? (await this.settle(client, batch.slice(middle)));
  }

  /** One transaction for the batch; settles every request once it committed, or returns what failed it. */
  private async attempt(
    client: pg.PoolClient,
    batch: readonly Pending<Q, R>[],
  ): Promise<{ error: unknown; broken: boolean } | undefined> {
    const committed: (() => void)[] = [];
    let outcomes: GroupOutcome<R>[];
    try {
      await client.query(this.options.begin === undefined ? 'BEGIN' : `BEGIN; ${this.options.begin}`);
      outcomes = await this.options.write(
        client,
        batch.map((p) => p.request),
        (work) => committed.push(work),
      );
      await client.query('COMMIT');
    } catch (error) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      return { error, broken: !rolledBack };
    }
    // Committed: nothing from here on may lead to writing these requests again. The notifications are best effort
    // (the outbox relays publish whatever eager publishing or a wake-up missed).
    try {
      this.options.afterCommit?.();
      for (const work of committed) work();
    } catch {
      // the batch is durable whatever a notification did
    }
    for (const [index, outcome] of outcomes.entries()) {
      const pending = batch[index] as Pending<Q, R>;
      if (outcome.kind === 'done') pending.resolve(outcome.value);
      else if (outcome.kind === 'failed') pending.reject(outcome.error);
      else
        await outcome.run(client).then(
          (value) => pending.resolve(value),
          (error: unknown) => pending.reject(error),
        );
    }
    return undefined;
  }
}
