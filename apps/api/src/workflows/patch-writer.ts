import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import type { EventCodec } from '#libs/events';
import { CONFIG, EVENT_CODEC, PG_POOL, ProblemError } from '#libs/platform';
import { OutboxWaker, skipOutboxTrigger } from '#libs/outbox';
import { readIdempotentAnswer, writePatchBatch, type AcceptedPatch, type PatchRequest } from './patch-batch.sql.js';

interface Pending {
  readonly request: PatchRequest;
  resolve(patch: AcceptedPatch): void;
  reject(error: unknown): void;
}

/** Batches in flight at once: enough to keep Postgres busy while one commits, few enough to leave pool room. */
const MAX_CONCURRENT_BATCHES = 3;

/**
 * Group commit for patch POSTs. Requests that arrive while a batch is being written wait for the next one, so under
 * load many 202s share one transaction and one fsync instead of paying for one each; a lone request is written at
 * once. A request's promise resolves only after its transaction committed (202 means durable).
 */
@Injectable()
export class PatchWriter {
  private queue: Pending[] = [];
  private running = 0;
  private readonly topic: string;
  private readonly waker: OutboxWaker;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
  ) {
    this.topic = `${config.KAFKA_TOPIC_PREFIX}patch.created`;
    this.waker = new OutboxWaker(pool);
  }

  submit(request: PatchRequest): Promise<AcceptedPatch> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < MAX_CONCURRENT_BATCHES && this.queue.length) {
      const batch = this.queue.splice(0, this.config.PATCH_WRITE_MAX_BATCH);
      this.running++;
      void this.write(batch).finally(() => {
        this.running--;
        this.drain();
      });
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    const client = await this.pool.connect().catch((error: unknown) => {
      batch.forEach((p) => p.reject(unavailable(error)));
      return undefined;
    });
    if (!client) return;
    try {
      await client.query('BEGIN');
      // Committing many batches a second, these transactions must not queue on NOTIFY's commit lock; one coalesced
      // wake-up after commit does the same job.
      await skipOutboxTrigger(client);
      const outcomes = await writePatchBatch(
        client,
        this.codec,
        this.topic,
        batch.map((p) => p.request),
      );
      await client.query('COMMIT');
      this.waker.wake();
      for (const [index, outcome] of outcomes.entries()) {
        const pending = batch[index] as Pending;
        if (outcome.kind === 'accepted') pending.resolve(outcome.patch);
        else if (outcome.kind === 'not_found')
          pending.reject(new ProblemError('not_found', `no workflow ${pending.request.workflowId}`));
        else await this.replay(client, pending);
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      batch.forEach((p) => p.reject(unavailable(error)));
    } finally {
      client.release();
    }
  }

  private async replay(client: Parameters<typeof readIdempotentAnswer>[0], pending: Pending): Promise<void> {
    const stored = await readIdempotentAnswer(client, pending.request);
    if (!stored) {
      pending.reject(
        new ProblemError('dependency_unavailable', 'the first request with this Idempotency-Key did not finish; retry'),
      );
    } else if (stored.requestHash !== pending.request.requestHash) {
      pending.reject(
        new ProblemError(
          'idempotency_key_reused',
          `Idempotency-Key "${pending.request.idempotencyKey}" was used for a different patch`,
        ),
      );
    } else {
      pending.resolve(stored.patch);
    }
  }
}

function unavailable(error: unknown): ProblemError {
  return error instanceof ProblemError
    ? error
    : new ProblemError('dependency_unavailable', `could not store the patch: ${(error as Error).message}`);
}
