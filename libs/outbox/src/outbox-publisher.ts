import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { IDEMPOTENT_PRODUCER, openProducer } from '#libs/kafka';
import { traceOutgoing } from '#libs/tracing';
import type { RefusedRow } from './dead-letters.sql.js';
import { recordRefusal } from './refused-record.js';
import { toTopicMessages, type ClaimedRow } from './relay-batch.js';

/** What became of a batch: the rows Kafka has, and those it refused for good (see refused-record.ts). */
export interface PublishOutcome {
  readonly published: readonly ClaimedRow[];
  readonly refused: readonly RefusedRow[];
}

/**
 * The relay's one Kafka producer. Idempotent with one request in flight, so kafkajs' own retries can neither duplicate
 * nor reorder a batch. Its retries are bounded (kafkajs' idempotent default is to retry forever) so that a failure
 * reaches the relay, which rolls the claim back, counts it and backs off instead of hanging invisibly inside kafkajs.
 *
 * After a failed send the producer is replaced: the broker may have written part of the batch, and the next send of
 * the same rows (under the same sequence numbers but possibly with more rows) could otherwise be refused as out of
 * order for good. A new producer id starts clean; the cost is possible duplicates, which the outbox allows
 * (at-least-once, consumers dedupe by sequence number).
 */
export class OutboxPublisher {
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly name: string,
    private readonly logger: Logger,
    private readonly sendRetries = 5,
  ) {}

  /** Resolves once Kafka has acknowledged every row (acks from all in-sync replicas). */
  async publish(rows: readonly ClaimedRow[]): Promise<void> {
    const producer = await this.connected();
    // A publish span per row that carries a trace context (none when tracing is off), sent on in its headers.
    const traced = traceOutgoing(rows, { 'outbox.relay': this.name });
    try {
      await producer.sendBatch({ topicMessages: toTopicMessages(traced.rows), acks: -1 });
      traced.end();
    } catch (error) {
      traced.end(error);
      await this.discard();
      throw error;
    }
  }

  /**
   * Publishes the batch; if the broker refuses a record for good, publishes its rows one at a time, in id order, to
   * find the ones it refuses (the batch may have failed only for their sake, or only as a whole), and returns those
   * instead of throwing. Rows of the failed batch that the broker had written before refusing go out again:
   * duplicates, which at-least-once allows. Any other failure throws, as `publish` does.
   */
  async publishOrRefuse(rows: readonly ClaimedRow[]): Promise<PublishOutcome> {
    try {
      await this.publish(rows);
      return { published: rows, refused: [] };
    } catch (error) {
      if (recordRefusal(error) === undefined) throw error;
    }
    const published: ClaimedRow[] = [];
    const refused: RefusedRow[] = [];
    for (const row of rows) {
      try {
        await this.publish([row]);
        published.push(row);
      } catch (error) {
        const refusal = recordRefusal(error);
        if (refusal === undefined) throw error;
        refused.push({ row, error: refusal });
      }
    }
    return { published, refused };
  }

  async close(): Promise<void> {
    await this.discard();
  }

  /** Only the relay loop calls this, one batch at a time, so there is never a second connect racing the first. */
  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = openProducer(this.kafka, this.name, {
      ...IDEMPOTENT_PRODUCER,
      retry: { retries: this.sendRetries },
    });
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = producer;
    return producer;
  }

  private async discard(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (!producer) return;
    await producer.disconnect().catch((error: unknown) => {
      this.logger.warn({ err: error }, 'producer did not disconnect cleanly');
    });
  }
}
