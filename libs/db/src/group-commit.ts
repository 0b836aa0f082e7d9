import type pg from 'pg';

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
  /** Runs after each commit (e.g. one coalesced outbox wake-up instead of a NOTIFY per transaction). */
  readonly afterCommit?: () => void;
  /** Turns a failure of the whole batch (pool, connection, statement) into what each request is rejected with. */
  readonly unavailable: (error: unknown) => unknown;
  /** Statements to run first in each transaction. */
  readonly begin?: (client: pg.PoolClient) => Promise<void>;
}

/**
 * Group commit: requests that arrive while a batch is being written wait for the next one, so under load many share
 * one transaction and one fsync instead of paying for one each; a lone request is written at once. A request's
 * promise settles only after its transaction committed or rolled back, so an answer always means durable.
 */
export class GroupCommit<Q, R> {
  private queue: { request: Q; resolve(value: R): void; reject(error: unknown): void }[] = [];
  private running = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: GroupCommitOptions<Q, R>,
  ) {}

  submit(request: Q): Promise<R> {
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

  private async write(batch: GroupCommit<Q, R>['queue']): Promise<void> {
    const client = await this.pool.connect().catch((error: unknown) => {
      batch.forEach((p) => p.reject(this.options.unavailable(error)));
      return undefined;
    });
    if (!client) return;
    try {
      await client.query('BEGIN');
      await this.options.begin?.(client);
      const committed: (() => void)[] = [];
      const outcomes = await this.options.write(
        client,
        batch.map((p) => p.request),
        (work) => committed.push(work),
      );
      await client.query('COMMIT');
      this.options.afterCommit?.();
      for (const work of committed) work();
      for (const [index, outcome] of outcomes.entries()) {
        const pending = batch[index] as (typeof batch)[number];
        if (outcome.kind === 'done') pending.resolve(outcome.value);
        else if (outcome.kind === 'failed') pending.reject(outcome.error);
        else
          await outcome.run(client).then(
            (value) => pending.resolve(value),
            (error: unknown) => pending.reject(error),
          );
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      batch.forEach((p) => p.reject(this.options.unavailable(error)));
    } finally {
      client.release();
    }
  }
}
