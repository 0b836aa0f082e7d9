import { randomBytes } from 'node:crypto';
import { openConsumer } from './kafka-client.js';
import type { Admin, Consumer, Kafka, KafkaMessage } from './kafkajs.js';

export interface ReadOptions {
  /** Consumer group; a throwaway one (deleted afterwards) when not given. */
  groupId?: string;
  fromBeginning: boolean;
  partition?: number;
  max?: number;
  /** Stop once the end offsets seen at start are reached (instead of following the topic). */
  untilEnd?: boolean;
  /** Stop after this long without a message. */
  idleMs?: number;
  /** Stop when this aborts (a command's SIGINT, a request's deadline). */
  signal?: AbortSignal;
  onMessage(message: KafkaMessage, partition: number, consumer: Consumer): Promise<void>;
}

/** Reads messages of one topic one by one until max, the end, idleness or the signal; returns how many it handled. */
export async function readTopic(kafka: Kafka, admin: Admin, topic: string, options: ReadOptions): Promise<number> {
  const throwaway = !options.groupId;
  const groupId = options.groupId ?? `orchestrator-cli-tail-${randomBytes(6).toString('hex')}`;
  const offsets = await admin.fetchTopicOffsets(topic);
  const ends = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  const lows = new Map(offsets.map((o) => [o.partition, Number(o.low)]));
  const committed = new Map(
    (await admin.fetchOffsets({ groupId, topics: [topic] }))
      .flatMap((t) => t.partitions)
      .map((p) => [p.partition, Number(p.offset)]),
  );
  // Partitions still to read up to their end (untilEnd only).
  const pending = new Set<number>();
  for (const [partition, end] of ends) {
    if (options.partition !== undefined && partition !== options.partition) continue;
    const start =
      (committed.get(partition) ?? -1) >= 0 ? (committed.get(partition) as number) : (lows.get(partition) ?? 0);
    if (start < end) pending.add(partition);
  }
  if (options.partition !== undefined && !ends.has(options.partition)) {
    throw new Error(`topic ${topic} has no partition ${options.partition} (it has ${ends.size})`);
  }
  if ((options.untilEnd && !pending.size) || options.max === 0) return 0;

  let handled = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    if (!options.idleMs) return;
    clearTimeout(idle);
    idle = setTimeout(stop, options.idleMs);
  };
  const onAbort = () => stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop();
  let failure: Error | undefined;
  const consumer = openConsumer(kafka, { groupId, sessionTimeout: 10_000, maxWaitTimeInMs: 100 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning });
    touch();
    let done = false;
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        if (done) return;
        if (options.partition !== undefined && partition !== options.partition) return;
        if (options.untilEnd && Number(message.offset) >= (ends.get(partition) ?? 0)) return;
        try {
          await options.onMessage(message, partition, consumer);
        } catch (error) {
          failure = error instanceof Error ? error : new Error(String(error));
          done = true;
          stop();
          return;
        }
        handled++;
        touch();
        if (options.untilEnd && Number(message.offset) + 1 >= (ends.get(partition) ?? 0)) pending.delete(partition);
        if ((options.max !== undefined && handled >= options.max) || (options.untilEnd && !pending.size)) {
          done = true;
          stop();
        }
      },
    });
    await stopped;
  } finally {
    clearTimeout(idle);
    options.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect();
    if (throwaway) await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  if (failure) throw failure;
  return handled;
}
