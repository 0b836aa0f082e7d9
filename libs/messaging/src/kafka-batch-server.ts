import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import type { Logger } from 'pino';
import type { EventCodec, EventTopic } from '#libs/events';
import {
  CONSUMER_OPTIONS,
  IDEMPOTENT_PRODUCER,
  openConsumer,
  openProducer,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  type PartitionAssigner,
  type Producer,
} from '#libs/kafka';
import { traceIncoming } from '#libs/tracing';
import {
  BatchRewound,
  CommitAfter,
  headersToStrings,
  PartitionLost,
  type DecodedMessage,
  type EventBatch,
} from './decoded-batch.js';
import { sendToDeadLetters, type DeadLetter } from './dead-letters.js';
import { waitOutOutages } from './outage-wait.js';

export interface KafkaBatchServerOptions {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  readonly logger: Logger;
  readonly groupId: string;
  /**
   * The event topics to consume (logical names; the codec knows the deployment's full names). Each needs an
   * `@EventPattern(<topic>)` handler, which receives values already checked against the topic's schema.
   */
  readonly topics: readonly EventTopic[];
  /** How long the broker may hold a fetch to fill it (the batching window under light load). */
  readonly maxWaitTimeInMs: number;
  readonly minBytes?: number;
  readonly maxBytesPerPartition?: number;
  /** Tries of a failing handler before its messages go to the dead-letter topic one by one. */
  readonly maxAttempts: number;
  readonly retryBackoffMs?: number;
  readonly sessionTimeoutMs?: number;
  /**
   * How long a handled batch's offsets may wait to be committed together with later ones (0 or unset: at once, after
   * each batch). Redelivered after a crash or a rebalance: at most that window's batches.
   */
  readonly commitIntervalMs?: number;
  /** Partition batches handled at once (kafkajs `partitionsConsumedConcurrently`); order holds within a partition. */
  readonly partitionsConsumedConcurrently?: number;
  /** Replaces kafkajs' round-robin assignor, e.g. with the co-partitioned one for a group reading several topics. */
  readonly partitionAssigners?: PartitionAssigner[];
  /** Called after poison messages (all of one partition) reached their dead-letter topic, before the offsets move past them. */
  readonly onDeadLetters?: (letters: readonly DeadLetter[]) => Promise<void>;
  /**
   * Called when this member (re)joins the group, with the partitions it now owns per topic: they may have changed,
   * so caches of theirs are stale.
   */
  readonly onRebalance?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
  /** A compacted topic's tombstones (no value) are skipped instead of being dead-lettered as undecodable. */
  readonly skipTombstones?: boolean;
}

/** Commit refusals that mean "this member no longer owns the partition", not "the batch failed". */
const LOST_GENERATION = new Set([
  'REBALANCE_IN_PROGRESS',
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'NOT_COORDINATOR_FOR_GROUP',
]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A handled batch of a partition whose handler's writes are not durable yet (CommitAfter). */
interface AwaitingDurable {
  readonly first: string;
  /** The offset to commit once this batch and every earlier one are durable. */
  readonly next: string;
  durable: boolean;
}

/** How a handled batch's writes become durable: at once, or once the handlers' CommitAfter promises resolved. */
type Handled = readonly Promise<void>[];

/** Postgres connection, resource and concurrency classes, socket errors and broker trouble: worth retrying, not the data's fault. */
function isTransient(error: unknown): boolean {
  // kafkajs marks broker and connection trouble (a disconnected producer, a leader moving, a timeout) as retriable.
  if ((error as { retriable?: unknown } | undefined)?.retriable === true) return true;
  if ((error as { name?: unknown } | undefined)?.name === 'KafkaJSNumberOfRetriesExceeded') return true;
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
  private groupJoined = false;
  private producer: Producer | undefined;
  /** Handled batches' next offsets by `topic:partition`, not committed yet (commitIntervalMs). */
  private readonly uncommitted = new Map<string, { topic: string; partition: number; offset: string }>();
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  /**
   * Handlers by topic, looked up once: NestJS's lookup first tries the pattern as JSON, and the exception a topic name
   * throws there cost ~2 % of a busy service's CPU when it ran per batch.
   */
  private readonly handlers = new Map<string, MessageHandler>();
  /**
   * Per `topic:partition`, handled batches whose writes are still under way (CommitAfter), oldest first. A queue is
   * replaced when the partition is rewound or the group rejoined: what its batches' writes report later is ignored.
   */
  private readonly awaitingDurable = new Map<string, AwaitingDurable[]>();
  /**
   * Partitions (`topic:partition`) whose writes failed after their handler had returned, until one succeeds: their
   * handlers' writes are awaited as part of the handling again, so a batch that keeps failing is retried and
   * dead-lettered like any failing batch instead of being read again forever.
   */
  private readonly failingWrites = new Set<string>();

  constructor(private readonly options: KafkaBatchServerOptions) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      for (const topic of this.options.topics) {
        if (!this.handlerFor(topic))
          throw new Error(`no @EventPattern('${topic}') handler for ${this.options.groupId}`);
      }
      this.producer = openProducer(this.options.kafka, `${this.options.groupId}-dlq`, IDEMPOTENT_PRODUCER);
      await this.producer.connect();
      await this.startConsumer();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  private async startConsumer(): Promise<void> {
    const consumer = openConsumer(this.options.kafka, {
      groupId: this.options.groupId,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs,
      minBytes: this.options.minBytes ?? CONSUMER_OPTIONS.consumer.minBytes,
      maxBytesPerPartition: this.options.maxBytesPerPartition ?? CONSUMER_OPTIONS.consumer.maxBytesPerPartition,
      sessionTimeout: this.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
      ...(this.options.partitionAssigners ? { partitionAssigners: this.options.partitionAssigners } : {}),
    });
    this.consumer = consumer;
    this.groupJoined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (consumer !== this.consumer) return;
      this.groupJoined = true;
      // A join restarts every partition at its committed offset: writes still under way no longer move them.
      this.awaitingDurable.clear();
    });
    for (const left of [consumer.events.REBALANCING, consumer.events.CRASH, consumer.events.STOP]) {
      consumer.on(left, () => consumer === this.consumer && (this.groupJoined = false));
    }
    const onRebalance = this.options.onRebalance;
    if (onRebalance) {
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const owned: Record<string, readonly number[]> = {};
        for (const [topic, partitions] of Object.entries(payload.memberAssignment as Record<string, number[]>)) {
          const logical = this.options.codec.names.logical(topic);
          if (logical) owned[logical] = partitions;
        }
        onRebalance(owned);
      });
    }
    // kafkajs restarts itself after retriable failures only; a consumer that stops for good would leave its
    // partitions' work undone while the process looks healthy, so it is replaced.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.consumer !== consumer) return;
      this.options.logger.error({ err: payload.error, group: this.options.groupId }, 'consumer crashed; replacing it');
      setTimeout(() => void this.replaceConsumer(consumer), 1_000);
    });
    await consumer.connect();
    const topics = this.options.topics.map((t) => this.options.codec.names.of(t));
    await consumer.subscribe({ topics, fromBeginning: true }).catch((error: Error) => {
      throw new Error(
        `${this.options.groupId} cannot subscribe to ${topics.join(', ')}: ${error.message} (npm run topics:apply creates them)`,
      );
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  private async replaceConsumer(crashed: Consumer): Promise<void> {
    if (this.consumer !== crashed) return;
    await crashed.disconnect().catch(() => undefined);
    if (this.consumer !== crashed) return;
    await this.startConsumer().catch((error: unknown) => {
      this.options.logger.error({ err: error, group: this.options.groupId }, 'consumer restart failed; retrying');
      this.consumer = crashed;
      setTimeout(() => void this.replaceConsumer(crashed), 5_000);
    });
  }

  private get sessionTimeoutMs(): number {
    return this.options.sessionTimeoutMs ?? 30_000;
  }

  private get heartbeatIntervalMs(): number {
    return Math.min(3_000, Math.floor(this.sessionTimeoutMs / 3));
  }

  /** Whether the consumer is a member of its group with an assignment (not joining, rebalancing or stopped). */
  get joined(): boolean {
    return this.groupJoined;
  }

  get groupId(): string {
    return this.options.groupId;
  }

  async close(): Promise<void> {
    this.groupJoined = false;
    await this.commitNow();
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect();
    await this.producer?.disconnect();
    this.producer = undefined;
  }

  on(): never {
    throw new Error('KafkaBatchServer has no events to listen to');
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }

  /**
   * Heartbeats while the handler works: a batch may take longer than the session (a slow http node), and a member
   * that goes quiet that long is evicted and its offsets commit refused. A commit refused all the same (the group
   * rebalanced meanwhile) is not an error of the batch: the new owner redelivers it, and handlers are idempotent.
   */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!batch.messages.length || !payload.isRunning() || payload.isStale()) return;
    const heartbeat = () => payload.heartbeat();
    const beating = setInterval(() => void heartbeat().catch(() => undefined), this.heartbeatIntervalMs);
    let durables: Handled;
    try {
      durables = await this.processBatch(payload, heartbeat);
    } catch (error) {
      if (error instanceof BatchRewound) return;
      if (!(error instanceof PartitionLost)) throw error;
      // Not ours any more: leave the batch to the new owner, and wait for the rebalance that tells this member so.
      this.options.logger.warn(
        { group: this.options.groupId, topic: batch.topic, partition: batch.partition, reason: error.message },
        'partition lost to another member; its batch is left to the new owner',
      );
      await sleep(500);
      return;
    } finally {
      clearInterval(beating);
    }
    const next = String(BigInt(batch.lastOffset()) + 1n);
    const key = `${batch.topic}:${batch.partition}`;
    if (durables.length || this.awaitingDurable.has(key)) {
      this.commitWhenDurable(batch.topic, batch.partition, batch.firstOffset() ?? next, next, durables);
      return;
    }
    await this.offsetHandled(batch.topic, batch.partition, next, true);
    await heartbeat();
  }

  /** The partition's handled offset goes in the next commit: within commitIntervalMs, or at once (`rethrow`: see commitNow). */
  private offsetHandled(topic: string, partition: number, offset: string, rethrow = false): Promise<void> {
    this.uncommitted.set(`${topic}:${partition}`, { topic, partition, offset });
    if (!this.options.commitIntervalMs) return this.commitNow(rethrow);
    this.commitLater();
    return Promise.resolve();
  }

  /**
   * The batch's offset is committed once its handlers' writes and those of every earlier batch of the partition are
   * durable. If one fails, the partition is read again from its earliest batch not durable yet (the handler's state
   * after it is lost with the write, see CommitAfter); the batches fetched meanwhile are stale (kafkajs drops them).
   */
  private commitWhenDurable(topic: string, partition: number, first: string, next: string, durables: Handled): void {
    const key = `${topic}:${partition}`;
    const consumer = this.consumer;
    const current = this.awaitingDurable.get(key) ?? [];
    this.awaitingDurable.set(key, current);
    const entry: AwaitingDurable = { first, next, durable: false };
    current.push(entry);
    Promise.all(durables).then(
      () => {
        if (this.awaitingDurable.get(key) !== current) return;
        entry.durable = true;
        let done: AwaitingDurable | undefined;
        while (current[0]?.durable) done = current.shift();
        if (!current.length) this.awaitingDurable.delete(key);
        if (done) void this.offsetHandled(topic, partition, done.next);
      },
      (error: unknown) => {
        if (this.awaitingDurable.get(key) !== current || consumer !== this.consumer || !consumer) return;
        this.awaitingDurable.delete(key);
        if (!(error instanceof PartitionLost)) this.failingWrites.add(key);
        const from = (current[0] as AwaitingDurable).first;
        const log = error instanceof PartitionLost ? 'debug' : 'warn';
        this.options.logger[log](
          { err: error, group: this.options.groupId, topic, partition, from },
          'a handled batch did not become durable; reading the partition again from its earliest batch not durable',
        );
        consumer.seek({ topic, partition, offset: from });
      },
    );
  }

  private commitLater(delayMs = this.options.commitIntervalMs): void {
    this.commitTimer ??= setTimeout(() => void this.commitNow(), delayMs);
  }

  /**
   * Commits the handled batches' offsets (one request for all partitions). A commit refused because the group
   * rebalanced is not an error of the batches: the new owner redelivers them. Other failures are thrown to the batch
   * that commits at once (`rethrow`), else logged: the next commit carries the same offsets or later ones.
   */
  private commitNow(rethrow = false): Promise<void> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const offsets = [...this.uncommitted.values()];
    this.uncommitted.clear();
    const consumer = this.consumer;
    if (!offsets.length || !consumer) return this.committing;
    // One commit at a time, in order: a later commit never lands before an earlier one of the same partition.
    const commit = this.committing.then(async () => {
      try {
        await consumer.commitOffsets(offsets);
      } catch (error) {
        const type = (error as { type?: unknown }).type;
        if (typeof type === 'string' && LOST_GENERATION.has(type)) {
          this.options.logger.warn(
            { group: this.options.groupId, partitions: offsets.map((o) => `${o.topic}:${o.partition}`), type },
            'offsets not committed: the group rebalanced meanwhile; those batches will be redelivered',
          );
          return;
        }
        if (rethrow) throw error;
        this.options.logger.warn(
          { err: error, group: this.options.groupId },
          'offset commit failed; the next one retries',
        );
        for (const o of offsets) {
          const key = `${o.topic}:${o.partition}`;
          if (!this.uncommitted.has(key)) this.uncommitted.set(key, o);
        }
        // No faster than once a second while the broker is away: each failure logs a line.
        this.commitLater(Math.max(1_000, this.options.commitIntervalMs ?? 0));
      }
    });
    this.committing = commit.catch(() => undefined);
    return commit;
  }

  private async processBatch(payload: EachBatchPayload, heartbeat: () => Promise<void>): Promise<Handled> {
    const { batch } = payload;
    const logicalTopic = this.options.codec.names.logical(batch.topic);
    if (!logicalTopic) throw new Error(`${batch.topic} is not an event topic of this deployment`);
    const decoded: DecodedMessage[] = [];
    const poison: DeadLetter[] = [];
    for (const message of batch.messages) {
      if (!message.value && this.options.skipTombstones) continue;
      try {
        decoded.push(await this.decodeRetryingOutages(message, logicalTopic, payload, heartbeat));
      } catch (error) {
        if (error instanceof PartitionLost) throw error;
        poison.push({
          sourceTopic: batch.topic,
          partition: batch.partition,
          message,
          error: `undecodable: ${(error as Error).message}`,
          attempts: 1,
        });
      }
    }
    const eventBatch = { topic: logicalTopic, partition: batch.partition, messages: decoded } as EventBatch;
    // A consumer span per traced message (nothing when tracing is off); handlers find it with messageContext().
    const traced = traceIncoming(decoded, {
      topic: logicalTopic,
      partition: batch.partition,
      group: this.options.groupId,
    });
    try {
      const durables = await this.handleDecoded(payload, eventBatch, poison, heartbeat);
      traced.end();
      return durables;
    } catch (error) {
      traced.end(error);
      throw error;
    }
  }

  private async handleDecoded(
    payload: EachBatchPayload,
    eventBatch: EventBatch,
    poison: DeadLetter[],
    heartbeat: () => Promise<void>,
  ): Promise<Handled> {
    const { batch } = payload;
    const decoded = eventBatch.messages;
    const durables: Promise<void>[] = [];
    const partition = { key: `${batch.topic}:${batch.partition}`, isStale: () => payload.isStale() };
    const whole = decoded.length ? await this.tryHandle(eventBatch, heartbeat, partition) : null;
    if (whole) durables.push(...whole);
    else if (decoded.length) {
      // The batch as a whole keeps failing: find the culprits one message at a time so the rest still get through.
      for (const [index, message] of decoded.entries()) {
        const handled = await this.tryHandle({ ...eventBatch, messages: [message] }, heartbeat, partition);
        if (handled) durables.push(...handled);
        else {
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
      // What came before the poison is durable first: the letters' consequences must not overtake it.
      await Promise.all(durables).catch((error: unknown) => {
        throw new BatchRewound(`the writes before the poison of ${batch.topic} partition ${batch.partition} failed`, {
          cause: error,
        });
      });
      await sendToDeadLetters(this.producer as Producer, poison);
      await this.options.onDeadLetters?.(poison);
    }
    payload.resolveOffset(batch.lastOffset());
    return durables;
  }

  /**
   * A message that cannot be decoded is poison, but a registry that does not answer (a timeout, a refused connection)
   * says nothing about the message: the decode is retried for as long as the consumer runs, so an outage pauses the
   * partition instead of emptying it into the DLQ.
   */
  private async decodeRetryingOutages(
    message: KafkaMessage,
    logicalTopic: EventTopic,
    payload: EachBatchPayload,
    heartbeat: () => Promise<void>,
  ): Promise<DecodedMessage> {
    try {
      return await waitOutOutages(() => this.decode(message, logicalTopic), {
        logger: this.options.logger,
        what: `${this.options.groupId} decoding`,
        fields: { topic: logicalTopic, partition: payload.batch.partition, offset: message.offset },
        isOutage: isTransient,
        keepWaiting: () => this.consumer !== undefined && payload.isRunning() && !payload.isStale(),
        beforePause: heartbeat,
        baseBackoffMs: this.options.retryBackoffMs ?? 100,
      });
    } catch (error) {
      if (!isTransient(error)) throw error;
      // Stopping, or the partition moved on: the batch is left uncommitted for whoever reads it next.
      throw new PartitionLost(`stopped decoding while the registry was unavailable: ${(error as Error).message}`);
    }
  }

  private async decode(message: KafkaMessage, logicalTopic: EventTopic): Promise<DecodedMessage> {
    if (!message.value) throw new Error('empty value');
    return {
      key: message.key?.toString() ?? null,
      value: await this.options.codec.decodeAs(logicalTopic, message.value),
      headers: headersToStrings(message.headers),
      offset: message.offset,
      timestamp: message.timestamp,
    };
  }

  private handlerFor(topic: string): MessageHandler | null {
    const cached = this.handlers.get(topic);
    if (cached) return cached;
    const handler = this.getHandlerByPattern(topic);
    if (handler) this.handlers.set(topic, handler);
    return handler;
  }

  /**
   * Calls the handler until it succeeds or has failed `maxAttempts` times. Failures of the infrastructure (database or
   * broker unreachable, deadlocks) are not the message's fault: they are retried for as long as the consumer runs and
   * never count towards dead-lettering, so an outage pauses the partition instead of emptying it into the DLQ.
   */
  private async tryHandle(
    batch: EventBatch,
    heartbeat: () => Promise<void>,
    partition: { readonly key: string; isStale(): boolean },
  ): Promise<Handled | null> {
    const handler = this.handlerFor(batch.topic);
    if (!handler) throw new Error(`no handler for ${batch.topic}`);
    const baseBackoff = this.options.retryBackoffMs ?? 100;
    let attempts = 0;
    let transientFailures = 0;
    while (this.consumer) {
      // Checked right before the handler, in the same turn: a partition rewound while the batch was being decoded
      // must not reach a handler that has already restored its state for the batch to be read again.
      if (partition.isStale()) throw new BatchRewound(`${batch.topic} partition ${batch.partition} was rewound`);
      try {
        const result: unknown = await lastValueFrom(this.transformToObservable(await handler(batch)), {
          defaultValue: undefined,
        });
        if (!(result instanceof CommitAfter)) return [];
        if (!this.failingWrites.has(partition.key)) return [result.durable];
        await result.durable;
        this.failingWrites.delete(partition.key);
        return [];
      } catch (error) {
        if (error instanceof PartitionLost) throw error;
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
        if (attempts >= this.options.maxAttempts) return null;
        await heartbeat().catch(() => undefined);
        await sleep(Math.min(5_000, baseBackoff * 2 ** Math.min(10, attempts + transientFailures - 1)));
      }
    }
    throw new Error('consumer stopped while retrying');
  }
}
