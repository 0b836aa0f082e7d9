import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventCodec, RunStateRecord } from '#libs/events';
import { openAdmin, openConsumer, type Kafka } from '#libs/kafka';
import { waitOutOutages } from '#libs/messaging';

export interface RestoreOptions {
  readonly kafka: Kafka;
  readonly codec: EventCodec;
  readonly logger: Logger;
  readonly timeoutMs: number;
}

/**
 * Reads partitions of the run.state changelog from the start to their current end and returns each run's latest
 * record (runs whose latest record is a tombstone are absent). Call it only after fencing the partitions'
 * transactional ids: then no transaction of a previous owner is still open on them, and the end is final.
 *
 * kafkajs cannot assign partitions by hand, so a consumer group of its own (deleted afterwards) reads the topic and
 * pauses the partitions it was not asked for. A partition counts as read once a fetch reached its end offset, control
 * records (the transaction markers, which are never handed over as messages) included.
 *
 * A record whose schema the codec has not cached needs the registry. While it is unreachable the restore waits for
 * it (the consumer heartbeating) rather than failing: failing would only start the restore over once kafkajs gave up
 * retrying the batch, after a line per try in the log. `timeoutMs` still bounds the whole restore.
 */
export async function restoreChangelog(
  options: RestoreOptions,
  partitions: readonly number[],
): Promise<Map<number, Map<string, RunStateRecord>>> {
  const restored = new Map(partitions.map((p) => [p, new Map<string, RunStateRecord>()]));
  if (!partitions.length) return restored;
  const admin = openAdmin(options.kafka, 'coordinator-restore');
  await admin.connect();
  let ends: Map<number, bigint>;
  const groupId = `${options.codec.names.prefix}coordinator-restore.${randomBytes(6).toString('hex')}`;
  try {
    const offsets = await admin.fetchTopicOffsets(options.codec.names.of('run.state'));
    ends = new Map(
      offsets
        .filter((o) => restored.has(o.partition) && BigInt(o.high) > BigInt(o.low))
        .map((o) => [o.partition, BigInt(o.high)]),
    );
    const others = offsets.map((o) => o.partition).filter((p) => !ends.has(p));
    if (ends.size) await readUntil(options, groupId, ends, others, restored);
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return restored;
}

async function readUntil(
  options: RestoreOptions,
  groupId: string,
  ends: Map<number, bigint>,
  others: readonly number[],
  restored: Map<number, Map<string, RunStateRecord>>,
): Promise<void> {
  const topic = options.codec.names.of('run.state');
  const consumer = openConsumer(options.kafka, {
    groupId,
    maxWaitTimeInMs: 50,
    maxBytesPerPartition: 8 * 1024 * 1024,
    allowAutoTopicCreation: false,
  });
  const pending = new Set(ends.keys());
  let done: () => void = () => undefined;
  let failed: (error: Error) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  const reached = (partition: number, lastOffset: string) => {
    const end = ends.get(partition);
    if (end !== undefined && BigInt(lastOffset) >= end - 1n) pending.delete(partition);
    if (!pending.size) done();
  };
  try {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (others.length) consumer.pause([{ topic, partitions: [...others] }]);
    });
    // Emitted for every fetched batch, also for one holding nothing but transaction markers.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
    consumer.on(consumer.events.CRASH, ({ payload }) => failed(payload.error));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const runs = restored.get(batch.partition);
        if (!runs) return;
        for (const message of batch.messages) {
          const key = message.key?.toString();
          if (!key) continue;
          const value = message.value;
          if (!value) {
            runs.delete(key);
            continue;
          }
          let record: RunStateRecord;
          try {
            record = await waitOutOutages(() => options.codec.decodeAs('run.state', value), {
              logger: options.logger,
              what: 'changelog restore',
              fields: { topic, partition: batch.partition, offset: message.offset },
              keepWaiting: () => payload.isRunning(),
              beforePause: () => payload.heartbeat(),
            });
          } catch (error) {
            // The restore failed or timed out meanwhile and its consumer is stopping: nobody wants the result.
            if (!payload.isRunning()) return;
            throw error;
          }
          runs.set(key, record);
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`changelog restore of partitions ${[...pending].join(',')} timed out`)),
        options.timeoutMs,
      );
    });
    try {
      await Promise.race([finished, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect();
  }
}
