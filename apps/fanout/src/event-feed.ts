import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { RegistryUnavailable, type EventCodec, type EventTopic } from '#libs/events';
import { openAdmin, openConsumer, type Consumer, type EachBatchPayload, type Kafka } from '#libs/kafka';
import { waitOutOutages } from '#libs/messaging';
import { RecentMessages } from './recent-messages.js';
import { runEventFromKafka, runKey } from './run-events.js';
import type { StreamEvent } from './stream-event.js';
import { Subscribers } from './subscribers.js';
import { workflowEventFromKafka, workflowKey } from './workflow-events.js';

export interface EventFeedOptions {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  readonly logger: Logger;
  readonly sessionTimeoutMs: number;
  /** How long and how many bytes of every subject's raw events to keep (RecentMessages). */
  readonly recent: { retainMs: number; maxBytes: number };
}

interface RawEvent {
  readonly topic: EventTopic;
  readonly value: Buffer;
}

/** Per topic: how a message key routes, and how a decoded value becomes a stream event. */
const TOPICS: Partial<
  Record<
    EventTopic,
    { route: (id: string) => string; toEvent: (codec: EventCodec, value: Buffer) => Promise<StreamEvent> }
  >
> = {
  'run.events': {
    route: runKey,
    toEvent: async (codec, value) => runEventFromKafka(await codec.decodeAs('run.events', value)),
  },
  'workflow.materialized': {
    route: workflowKey,
    toEvent: async (codec, value) => workflowEventFromKafka(await codec.decodeAs('workflow.materialized', value)),
  },
};

/**
 * The process's one Kafka consumer of `run.events` and `workflow.materialized`, fanned out in memory to the open
 * streams by run or workflow id.
 *
 * Every fanout instance must see every event, so each one is alone in a consumer group of its own: a unique group id
 * per instance, starting at the latest offset, never committing, deleted on shutdown. (kafkajs has no group-less
 * manual assignment.) Nothing is lost by starting at the latest offset or by never committing: a stream replays
 * history from Postgres and fills any gap from there, so Kafka only has to be fast, not complete. A crashed instance
 * leaves an empty group without offsets, which the broker removes at its next offsets clean-up (every 10 minutes by
 * default).
 */
export class EventFeed {
  readonly subscribers = new Subscribers();
  readonly groupId: string;
  private readonly recent: RecentMessages<RawEvent>;
  private consumer: Consumer | undefined;
  private readonly ready: Promise<void>;
  private markReady: () => void = () => undefined;

  constructor(private readonly options: EventFeedOptions) {
    const prefix = options.codec.names.prefix;
    this.groupId = `${prefix}fanout.${hostname()}.${process.pid}.${randomBytes(4).toString('hex')}`;
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.recent = new RecentMessages(options.recent, (raw) => raw.value.length + raw.topic.length);
  }

  /**
   * The subject's events with id > `after` that went through this feed in the recent window, in id order, without
   * duplicates. Decoded only when a stream asks; one that cannot be decoded is left out (history has it). While the
   * registry is unavailable the rest are left out too: each would wait for it in turn, holding the stream's catch-up.
   */
  async recentAfter(key: string, after: number): Promise<StreamEvent[]> {
    this.recent.prune(Date.now());
    const byId = new Map<number, StreamEvent>();
    for (const raw of this.recent.of(key)) {
      let event: StreamEvent | undefined;
      try {
        event = await TOPICS[raw.topic]?.toEvent(this.options.codec, raw.value);
      } catch (error) {
        if (error instanceof RegistryUnavailable) break;
        continue;
      }
      if (event && event.id > after) byId.set(event.id, event);
    }
    return [...byId.values()].sort((a, b) => a.id - b.id);
  }

  async start(): Promise<void> {
    const consumer = openConsumer(this.options.kafka, {
      groupId: this.groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: Math.min(3_000, Math.floor(this.options.sessionTimeoutMs / 3)),
      // Events are pushed as soon as they arrive (minBytes 1); this only bounds an idle fetch, and so how soon the
      // feed knows its position after joining.
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    // Joined, then one fetch done: the partitions' starting offsets are resolved, so anything committed to Kafka from
    // now on reaches this process.
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    consumer.on(consumer.events.FETCH, () => {
      if (joined) this.markReady();
    });
    await consumer.connect();
    const topics = (Object.keys(TOPICS) as EventTopic[]).map((t) => this.options.codec.names.of(t));
    await consumer.subscribe({ topics, fromBeginning: false }).catch((error: Error) => {
      throw new Error(
        `fanout cannot subscribe to ${topics.join(', ')}: ${error.message} (npm run topics:apply creates them)`,
      );
    });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => this.handleBatch(payload) });
  }

  /** Resolves once the feed is in position, or after `timeoutMs` (streams then rely on their Postgres re-reads). */
  whenReady(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    return Promise.race([this.ready, timeout]).finally(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (!consumer) return;
    await consumer.disconnect();
    const admin = openAdmin(this.options.kafka, 'fanout-group-cleanup');
    try {
      await admin.connect();
      await admin.deleteGroups([this.groupId]);
    } catch (error) {
      this.options.logger.warn({ err: error, groupId: this.groupId }, 'could not delete the fanout consumer group');
    } finally {
      await admin.disconnect();
    }
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const consumer = this.consumer;
    const logicalTopic = this.options.codec.names.logical(batch.topic);
    const topic = logicalTopic && TOPICS[logicalTopic];
    if (!topic) return;
    for (const message of batch.messages) {
      if (!payload.isRunning() || payload.isStale()) return;
      const key = message.key && topic.route(message.key.toString());
      if (!key || !message.value) continue;
      if (this.options.recent.retainMs > 0)
        // A copy: kafkajs' value is a slice of the whole fetched batch, which the byte cap would not see.
        this.recent.add(key, { topic: logicalTopic, value: Buffer.from(message.value) }, Date.now());
      // The key is the run or workflow id: most messages concern streams open elsewhere, so skip them undecoded.
      if (!this.subscribers.has(key)) continue;
      const value = message.value;
      const fields = { topic: batch.topic, partition: batch.partition, offset: message.offset };
      let event: StreamEvent;
      try {
        // A registry that does not answer says nothing about the message: the feed waits for it, in order, where
        // skipping would leave the event to the recent window and Postgres, which may not have it (yet).
        event = await waitOutOutages(() => topic.toEvent(this.options.codec, value), {
          logger: this.options.logger,
          what: 'fanout feed decoding',
          fields,
          keepWaiting: () => this.consumer === consumer && payload.isRunning() && !payload.isStale(),
          beforePause: () => payload.heartbeat(),
        });
      } catch (error) {
        if (this.consumer !== consumer || !payload.isRunning() || payload.isStale()) return;
        // A bad message costs its subscribers nothing: their streams find the event in Postgres.
        this.options.logger.warn({ err: error, ...fields }, 'undecodable event skipped');
        continue;
      }
      this.subscribers.publish(key, event);
    }
  }
}
