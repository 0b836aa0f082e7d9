import type { Consumer, Kafka } from 'kafkajs';
import { openConsumer } from '#libs/kafka';

export interface ReadMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

export interface TopicReader {
  /** Everything read so far, in the order it arrived (which is offset order within each partition). */
  readonly messages: ReadMessage[];
  /** Resolves once `done(messages)` holds; fails after `timeoutMs` with what was read so far. */
  until(done: (messages: readonly ReadMessage[]) => boolean, timeoutMs: number): Promise<void>;
  /**
   * Resolves once every message of `topic` below `ends` (an admin's `fetchTopicOffsets`) has been read: nothing
   * produced before those offsets were taken is still on its way. For topics without transactions only, whose last
   * offset holds a message rather than a transaction marker.
   */
  readTo(
    topic: string,
    ends: readonly { partition: number; low: string; high: string }[],
    timeoutMs: number,
  ): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reads topics from the beginning with a consumer group of its own and keeps every message, for tests that check what
 * reached Kafka. Short fetch waits keep the tests' latency low.
 */
export async function readTopics(kafka: Kafka, topics: string[], groupId: string): Promise<TopicReader> {
  const consumer: Consumer = openConsumer(kafka, { groupId, maxWaitTimeInMs: 100, sessionTimeout: 10_000 });
  const messages: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(m.headers ?? {})) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value.toString();
          }
          messages.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key?.toString() ?? '',
            value: m.value ?? Buffer.alloc(0),
            headers,
          });
        }
        await Promise.resolve();
      },
    });
  } catch (error) {
    await consumer.disconnect();
    throw error;
  }
  const until = async (done: (messages: readonly ReadMessage[]) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!done(messages)) {
      if (Date.now() > deadline) {
        throw new Error(`topic reader: condition not met after ${timeoutMs} ms (${messages.length} messages read)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return {
    messages,
    until,
    readTo: (topic, ends, timeoutMs) => {
      const lastOffsets = ends
        .filter((e) => BigInt(e.high) > BigInt(e.low))
        .map((e) => [e.partition, BigInt(e.high) - 1n] as const);
      return until(
        (read) =>
          lastOffsets.every(([partition, last]) =>
            read.some((m) => m.topic === topic && m.partition === partition && BigInt(m.offset) >= last),
          ),
        timeoutMs,
      );
    },
    stop: () => consumer.disconnect(),
  };
}
