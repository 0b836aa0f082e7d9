import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import type { Logger } from 'pino';
import type { EventCodec, SchemaName } from '#libs/events';
import {
  openConsumer,
  openProducer,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  type PartitionAssigner,
  type Producer,
} from '#libs/kafka';
import { headersToStrings, type DecodedMessage, type EventBatch } from './decoded-batch.js';
import { sendToDeadLetters, type DeadLetter } from './dead-letters.js';

export interface KafkaBatchServerOptions {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  readonly logger: Logger;
  readonly groupId: string;
  /** Prefix of this deployment's topic names (KAFKA_TOPIC_PREFIX); handlers are registered by logical name. */
  readonly topicPrefix: string;
  /**
   * Logical topic names to consume, each with the schema its values must match; each needs an
   * `@EventPattern(<name>)` handler, which then receives values already checked against that schema.
   */
  readonly topics: Readonly<Record<string, SchemaName>>;
  /** How long the broker may hold a fetch to fill it (the batching window under light load). */
  readonly maxWaitTimeInMs: number;
  readonly minBytes?: number;
  readonly maxBytesPerPartition?: number;
  /** Tries of a failing handler before its messages go to the dead-letter topic one by one. */
  readonly maxAttempts: number;
  readonly retryBackoffMs?: number;
  readonly sessionTimeoutMs?: number;
  /** Partition batches handled at once (kafkajs `partitionsConsumedConcurrently`); order holds within a partition. */
  readonly partitionsConsumedConcurrently?: number;
  /** Replaces kafkajs' round-robin assignor, e.g. with the co-partitioned one for a group reading several topics. */
  readonly partitionAssigners?: PartitionAssigner[];
  /** Called after poison messages reached their dead-letter topic, before the offsets move past them. */
  readonly onDeadLetters?: (letters: readonly DeadLetter[]) => Promise<void>;
  /** Called when this member (re)joins the group: its partitions may have changed, so caches of theirs are stale. */
  readonly onRebalance?: () => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Postgres connection, resource and concurrency classes, and socket errors: worth retrying, not the data's fault. */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  return /^(08|53|57P0|40001|40P01)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code);
}

/**
 * A NestJS transport over kafkajs `eachBatch` (the stock ServerKafka only has `eachMessage`): one consumer group per
 * server, one handler call per fetched partition batch, offsets committed only after the handler resolved, so the
 * handler's own transaction decides what counts as done. Undecodable messages, and messages whose handler keeps
 * failing, go to `<topic>.dlq` and the partition moves on (DESIGN §3, invariant 6).
 */
export class KafkaBatchServer extends Server implements CustomTransportStrategy {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;

  constructor(private readonly options: KafkaBatchServerOptions) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      for (const topic of Object.keys(this.options.topics)) {
        if (!this.getHandlerByPattern(topic))
          throw new Error(`no @EventPattern('${topic}') handler for ${this.options.groupId}`);
      }
      this.producer = openProducer(this.options.kafka, `${this.options.groupId}-dlq`, {
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await this.producer.connect();
      this.consumer = openConsumer(this.options.kafka, {
        groupId: this.options.groupId,
        maxWaitTimeInMs: this.options.maxWaitTimeInMs,
        minBytes: this.options.minBytes ?? 1,
        maxBytesPerPartition: this.options.maxBytesPerPartition ?? 1_048_576,
        sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: Math.min(3_000, Math.floor((this.options.sessionTimeoutMs ?? 30_000) / 3)),
        ...(this.options.partitionAssigners ? { partitionAssigners: this.options.partitionAssigners } : {}),
      });
      const onRebalance = this.options.onRebalance;
      if (onRebalance) this.consumer.on(this.consumer.events.GROUP_JOIN, () => onRebalance());
      await this.consumer.connect();
      const topics = Object.keys(this.options.topics).map((t) => `${this.options.topicPrefix}${t}`);
      await this.consumer.subscribe({ topics, fromBeginning: true }).catch((error: Error) => {
        throw new Error(
          `${this.options.groupId} cannot subscribe to ${topics.join(', ')}: ${error.message} (npm run topics:apply creates them)`,
        );
      });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => this.handleBatch(payload),
      });
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    this.consumer = undefined;
    this.producer = undefined;
  }

  on(): never {
    throw new Error('KafkaBatchServer has no events to listen to');
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const heartbeat = () => payload.heartbeat();
    if (!batch.messages.length || !payload.isRunning() || payload.isStale()) return;
    const logicalTopic = batch.topic.slice(this.options.topicPrefix.length);
    const decoded: DecodedMessage[] = [];
    const poison: DeadLetter[] = [];
    for (const message of batch.messages) {
      try {
        decoded.push(await this.decode(message, logicalTopic));
      } catch (error) {
        poison.push({
          sourceTopic: batch.topic,
          partition: batch.partition,
          message,
          error: `undecodable: ${(error as Error).message}`,
          attempts: 1,
        });
      }
    }
    const eventBatch: EventBatch = { topic: logicalTopic, partition: batch.partition, messages: decoded };
    if (decoded.length && !(await this.tryHandle(eventBatch, heartbeat))) {
      // The batch as a whole keeps failing: find the culprits one message at a time so the rest still get through.
      for (const [index, message] of decoded.entries()) {
        const ok = await this.tryHandle({ ...eventBatch, messages: [message] }, heartbeat);
        if (!ok) {
          poison.push({
            sourceTopic: batch.topic,
            partition: batch.partition,
            message: batch.messages.find((m) => m.offset === message.offset) as KafkaMessage,
            error: `handler failed ${this.options.maxAttempts} times`,
            attempts: this.options.maxAttempts,
          });
          this.options.logger.error(
            { topic: batch.topic, partition: batch.partition, offset: message.offset, index },
            'message sent to dead letters',
          );
        }
      }
    }
    if (poison.length) {
      await sendToDeadLetters(this.producer as Producer, poison);
      await this.options.onDeadLetters?.(poison);
    }
    const last = batch.lastOffset();
    payload.resolveOffset(last);
    await this.consumer?.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
    ]);
    await heartbeat();
  }

  private async decode(message: KafkaMessage, logicalTopic: string): Promise<DecodedMessage> {
    if (!message.value) throw new Error('empty value');
    const schema = this.options.topics[logicalTopic] as SchemaName;
    return {
      key: message.key?.toString() ?? null,
      value: this.options.codec.parse(schema, await this.options.codec.decode(message.value)),
      headers: headersToStrings(message.headers),
      offset: message.offset,
      timestamp: message.timestamp,
    };
  }

  /**
   * Calls the handler until it succeeds or has failed `maxAttempts` times. Failures of the infrastructure (database or
   * broker unreachable, deadlocks) are not the message's fault: they are retried for as long as the consumer runs and
   * never count towards dead-lettering, so an outage pauses the partition instead of emptying it into the DLQ.
   */
  private async tryHandle(batch: EventBatch, heartbeat: () => Promise<void>): Promise<boolean> {
    const handler = this.getHandlerByPattern(batch.topic);
    if (!handler) throw new Error(`no handler for ${batch.topic}`);
    const baseBackoff = this.options.retryBackoffMs ?? 100;
    let attempts = 0;
    let transientFailures = 0;
    while (this.consumer) {
      try {
        await lastValueFrom(this.transformToObservable(await handler(batch)), { defaultValue: undefined });
        return true;
      } catch (error) {
        const transient = isTransient(error);
        if (transient) transientFailures++;
        else attempts++;
        this.options.logger.warn(
          {
            err: error,
            topic: batch.topic,
            partition: batch.partition,
            attempts,
            transient,
            size: batch.messages.length,
          },
          'batch handler failed',
        );
        if (attempts >= this.options.maxAttempts) return false;
        await heartbeat().catch(() => undefined);
        await sleep(Math.min(5_000, baseBackoff * 2 ** Math.min(10, attempts + transientFailures - 1)));
      }
    }
    throw new Error('consumer stopped while retrying');
  }
}
