import {
  IDEMPOTENT_PRODUCER,
  openProducer,
  readTopic,
  type Admin,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
} from '#libs/kafka';
import { headersToStrings } from './decoded-batch.js';

/** Dead-letter topics are `<source topic>.dlq` (sendToDeadLetters). */
export const isDeadLetterTopic = (topic: string): boolean => topic.endsWith('.dlq');

/**
 * The group whose committed offsets on a dead-letter topic mark what was already redriven. The CLI and the API share
 * it, so a message redriven by one is not redriven again by the other.
 */
export const redriveGroup = (prefix: string): string => `${prefix}orchestrator-cli-redrive`;

export interface DeadLetterTopic {
  readonly topic: string;
  /** Messages kept on the topic (retention may have dropped older ones). */
  readonly messages: number;
  /** Messages after the redrive group's committed offsets. */
  readonly notRedriven: number;
}

/** A dead letter as operators read it: where it came from, why it failed, and its value decoded. */
export interface DeadLetterMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: string;
  readonly key: string | null;
  readonly headers: Record<string, string>;
  /** The `dlq.*` headers: error, source topic/partition/offset, attempts, failed-at. */
  readonly dlq: Record<string, string>;
  readonly value?: unknown;
  /** Why the value could not be decoded (then `raw` has it in base64). */
  readonly error?: string;
  readonly raw?: string;
}

export interface RedrivenMessage {
  readonly partition: number;
  readonly offset: number;
  /** The topic it was (or would be) republished to. */
  readonly to: string;
  readonly key: string | null;
}

export class UnknownSourceTopic extends Error {
  constructor(
    readonly topic: string,
    readonly source: string,
  ) {
    super(`source topic "${source}" of ${topic} does not exist`);
  }
}

/** Message counts of one dead-letter topic, and how many the redrive group has not passed yet. */
export async function deadLetterCounts(admin: Admin, topic: string, prefix: string): Promise<DeadLetterTopic> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const committed = new Map(
    (await admin.fetchOffsets({ groupId: redriveGroup(prefix), topics: [topic] }))
      .flatMap((t) => t.partitions)
      .map((p) => [p.partition, Number(p.offset)]),
  );
  let messages = 0;
  let notRedriven = 0;
  for (const o of offsets) {
    const low = Number(o.low);
    const high = Number(o.high);
    messages += high - low;
    notRedriven += high - Math.max(low, committed.get(o.partition) ?? -1);
  }
  return { topic, messages, notRedriven };
}

/** The deployment's dead-letter topics (those under its prefix), by name. */
export async function deadLetterTopicNames(admin: Admin, prefix: string): Promise<string[]> {
  return (await admin.listTopics()).filter((t) => t.startsWith(prefix) && isDeadLetterTopic(t)).sort();
}

/** The deployment's dead-letter topics, by name, with their counts. */
export async function listDeadLetterTopics(admin: Admin, prefix: string): Promise<DeadLetterTopic[]> {
  const topics = await deadLetterTopicNames(admin, prefix);
  return Promise.all(topics.map((topic) => deadLetterCounts(admin, topic, prefix)));
}

/** Decodes a message value into one JSON-able record; an undecodable value gets `error` and its bytes in `raw`. */
export async function decodeMessage(
  decode: (value: Buffer) => Promise<unknown>,
  topic: string,
  partition: number,
  message: KafkaMessage,
): Promise<{
  topic: string;
  partition: number;
  offset: number;
  timestamp: string;
  key: string | null;
  headers: Record<string, string>;
  value?: unknown;
  error?: string;
  raw?: string;
}> {
  const base = {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: new Date(Number(message.timestamp)).toISOString(),
    key: message.key?.toString('utf8') ?? null,
    headers: headersToStrings(message.headers),
  };
  if (!message.value) return { ...base, value: null };
  try {
    return { ...base, value: await decode(message.value) };
  } catch (error) {
    return { ...base, error: `cannot decode: ${(error as Error).message}`, raw: message.value.toString('base64') };
  }
}

/** Reads a dead-letter topic from its start to the end it had when asked, decoding each message. */
export async function readDeadLetters(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  options: {
    decode: (value: Buffer) => Promise<unknown>;
    max?: number;
    signal?: AbortSignal;
    onMessage: (message: DeadLetterMessage) => void | Promise<void>;
  },
): Promise<number> {
  return readTopic(kafka, admin, topic, {
    fromBeginning: true,
    untilEnd: true,
    ...(options.max !== undefined ? { max: options.max } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onMessage: async (message, partition) => {
      const decoded = await decodeMessage(options.decode, topic, partition, message);
      const dlq = Object.fromEntries(Object.entries(decoded.headers).filter(([k]) => k.startsWith('dlq.')));
      await options.onMessage({ ...decoded, dlq });
    },
  });
}

/**
 * Republishes dead letters not redriven yet to their source topic (original key, value and headers minus `dlq.*`),
 * committing each on the redrive group once the broker has it, so none is redriven twice. A dry run publishes and
 * commits nothing (it reads through a throwaway group).
 */
export async function redriveDeadLetters(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  options: {
    prefix: string;
    max?: number;
    dryRun?: boolean;
    signal?: AbortSignal;
    onRedriven?: (message: RedrivenMessage, done: number) => void;
  },
): Promise<RedrivenMessage[]> {
  const known = new Set(await admin.listTopics());
  const producer = openProducer(kafka, 'redrive', IDEMPOTENT_PRODUCER);
  if (!options.dryRun) await producer.connect();
  const redriven: RedrivenMessage[] = [];
  try {
    await readTopic(kafka, admin, topic, {
      ...(options.dryRun ? {} : { groupId: redriveGroup(options.prefix) }),
      fromBeginning: true,
      untilEnd: true,
      ...(options.max !== undefined ? { max: options.max } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onMessage: async (message, partition, consumer) => {
        const headers: IHeaders = {};
        let source = topic.slice(0, -'.dlq'.length);
        for (const [key, value] of Object.entries(message.headers ?? {})) {
          if (key === 'dlq.source.topic' && value !== undefined) source = String(value);
          if (!key.startsWith('dlq.') && value !== undefined) headers[key] = value;
        }
        if (!known.has(source)) throw new UnknownSourceTopic(topic, source);
        if (!options.dryRun) {
          await producer.send({
            topic: source,
            acks: -1,
            messages: [{ key: message.key, value: message.value, headers }],
          });
          await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        }
        const done = {
          partition,
          offset: Number(message.offset),
          to: source,
          key: message.key?.toString('utf8') ?? null,
        };
        redriven.push(done);
        options.onRedriven?.(done, redriven.length);
      },
    });
  } finally {
    if (!options.dryRun) await producer.disconnect();
  }
  return redriven;
}
