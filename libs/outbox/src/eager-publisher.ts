import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { inTransaction, preparedStatement, type Pool } from '#libs/db';
import { Counter, type Registry } from 'prom-client';
import { moveToDeadLetters, type RefusedRow } from './dead-letters.sql.js';
import { OutboxPublisher } from './outbox-publisher.js';
import { takeWithinBytes, type ClaimedRow } from './relay-batch.js';

const DELETE_PUBLISHED = preparedStatement(
  'outbox.delete-published',
  'DELETE FROM outbox WHERE id = ANY($1::bigint[])',
);

/**
 * Publishes outbox rows right after their writer's transaction committed, then deletes them, so a command reaches
 * Kafka without waiting for a relay (NOTIFY, claim, publish, delete). The rows were inserted with a `publish_after`
 * grace: the relays take any that are still there after it, which covers a writer that died between its commit and
 * this publish, and a publish that failed. Batches go out one at a time in the order their transactions committed,
 * so the rows of one key written by this process keep their order. A row the broker refuses for good goes to the
 * dead-letter table at once, as the relay would move it (outbox-relay.ts), instead of waiting out its grace.
 */
export class EagerOutboxPublisher {
  private readonly publisher: OutboxPublisher;
  private queue: ClaimedRow[] = [];
  private draining: Promise<void> | undefined;
  /** Deletes of published batches, one at a time in publishing order. */
  private settling: Promise<void> = Promise.resolve();
  private readonly published: Counter;
  private readonly failed: Counter;
  private readonly deadLettered: Counter<'topic'>;

  constructor(
    private readonly pool: Pool,
    kafka: Kafka,
    private readonly logger: Logger,
    registry: Registry,
    private readonly maxBatchBytes: number,
  ) {
    this.publisher = new OutboxPublisher(kafka, 'outbox-eager', logger);
    this.published = new Counter({
      name: 'outbox_eager_published_total',
      help: 'Outbox rows published by their writer right after its commit (the rest wait for a relay)',
      registers: [registry],
    });
    this.failed = new Counter({
      name: 'outbox_eager_failures_total',
      help: 'Eager publishes that failed; their rows are left to the relays after the grace',
      registers: [registry],
    });
    this.deadLettered = new Counter({
      name: 'outbox_eager_dead_lettered_total',
      help: 'Outbox rows the broker refused for good when their writer published them, moved to outbox_dead_letters',
      labelNames: ['topic'],
      registers: [registry],
    });
  }

  /** Queues committed rows; never throws (a row not published here is the relays' after its grace). */
  publish(rows: readonly ClaimedRow[]): void {
    if (!rows.length) return;
    this.queue.push(...rows);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** Publishes what is queued, then closes the producer. */
  async close(): Promise<void> {
    await this.draining;
    await this.settling;
    await this.publisher.close();
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = takeWithinBytes(this.queue, this.maxBatchBytes);
      this.queue = this.queue.slice(batch.length);
      try {
        const { published, refused } = await this.publisher.publishOrRefuse(batch);
        this.published.inc(published.length);
        // The next batch need not wait for this one's rows to leave the table: order is the publishing's, and a
        // row whose delete is late is only published again by a relay after its grace (at least once, as ever).
        this.settling = this.settling.then(() => this.settle(published, refused));
      } catch (error) {
        this.failed.inc();
        this.logger.warn({ err: error, rows: batch.length }, 'eager outbox publish failed; the relays take the rows');
      }
    }
  }

  /** Deletes the published rows (one statement when none was refused) and moves the refused ones to dead letters. */
  private async settle(published: readonly ClaimedRow[], refused: readonly RefusedRow[]): Promise<void> {
    const deletePublished = DELETE_PUBLISHED.with([published.map((r) => r.id)]);
    try {
      if (!refused.length) {
        await this.pool.query(deletePublished);
        return;
      }
      await inTransaction(this.pool, async (client) => {
        await client.query(deletePublished);
        await moveToDeadLetters(client, refused, 'eager');
      });
      for (const { row, error } of refused) {
        this.deadLettered.inc({ topic: row.topic });
        this.logger.warn(
          { outboxId: row.id, topic: row.topic, key: row.key, bytes: row.payload.length, error },
          'outbox row refused by the broker: moved to outbox_dead_letters',
        );
      }
    } catch (error) {
      this.failed.inc();
      this.logger.warn(
        { err: error, rows: published.length + refused.length },
        'published outbox rows not deleted; the relays publish them again after the grace',
      );
    }
  }
}
