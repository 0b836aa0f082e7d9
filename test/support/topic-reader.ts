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
  return {
    messages,
    until: async (done, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (!done(messages)) {
        if (Date.now() > deadline) {
          throw new Error(`topic reader: condition not met after ${timeoutMs} ms (${messages.length} messages read)`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stop: () => consumer.disconnect(),
  };
}
