import { randomBytes } from 'node:crypto';
import { openConsumer } from './kafka-client.js';
import type { Admin, Kafka } from './kafkajs.js';

/** One partition of one topic as one consumer group sees it. */
export interface PartitionLag {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset, or null when it never committed on this partition. */
  readonly committedOffset: number | null;
  /** The high watermark: the offset the next message will get. */
  readonly endOffset: number;
  /** end − committed; a partition without a commit counts from its earliest offset. */
  readonly lag: number;
  /** Age in ms of the oldest unconsumed message, when asked for and it could be read in time. */
  readonly oldestUnconsumedAgeMs: number | null;
}

export interface GroupLag {
  readonly group: string;
  readonly state: string;
  readonly members: number;
  readonly partitions: PartitionLag[];
}

export interface ConsumerLagOptions {
  /** Only groups whose id starts with this (a deployment's KAFKA_TOPIC_PREFIX), and only their topics that do. */
  prefix?: string;
  /** Only these groups (exact ids). */
  groups?: readonly string[];
  /** Read the message at the committed offset of each lagging partition to age it (costs a short-lived consumer). */
  withAge?: { kafka: Kafka; timeoutMs?: number };
  now?: () => number;
}

/** Committed offsets, end offsets and lag of consumer groups, per topic and partition. */
export async function readConsumerLag(admin: Admin, options: ConsumerLagOptions = {}): Promise<GroupLag[]> {
  const prefix = options.prefix ?? '';
  const listed = (await admin.listGroups()).groups
    .filter((g) => g.protocolType === 'consumer' || g.protocolType === '')
    .map((g) => g.groupId);
  const ids = (options.groups ? listed.filter((g) => options.groups?.includes(g)) : listed)
    .filter((g) => g.startsWith(prefix) && !g.includes(PROBE_MARK))
    .sort();
  if (!ids.length) return [];
  const described = new Map((await admin.describeGroups(ids)).groups.map((g) => [g.groupId, g]));
  const ends = new Map<string, Map<number, { high: number; low: number }>>();
  const endsOf = async (topic: string) => {
    let byPartition = ends.get(topic);
    if (!byPartition) {
      const offsets = await admin.fetchTopicOffsets(topic);
      byPartition = new Map(offsets.map((o) => [o.partition, { high: Number(o.high), low: Number(o.low) }]));
      ends.set(topic, byPartition);
    }
    return byPartition;
  };

  const result: GroupLag[] = [];
  for (const group of ids) {
    const committed = await admin.fetchOffsets({ groupId: group });
    const partitions: PartitionLag[] = [];
    for (const { topic, partitions: offsets } of committed) {
      if (!topic.startsWith(prefix)) continue;
      const topicEnds = await endsOf(topic);
      // The broker lists only partitions the group committed on; the topic's other partitions count as uncommitted.
      const committedBy = new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
      for (const [partition, end] of topicEnds) {
        const offset = committedBy.get(partition) ?? -1;
        const committedOffset = offset >= 0 ? offset : null;
        // Below the log start (retention deleted it), a consumer resumes at the earliest offset still there.
        const from = Math.max(committedOffset ?? end.low, end.low);
        partitions.push({
          group,
          topic,
          partition,
          committedOffset,
          endOffset: end.high,
          lag: Math.max(0, end.high - from),
          oldestUnconsumedAgeMs: null,
        });
      }
    }
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    const description = described.get(group);
    result.push({
      group,
      state: description?.state ?? 'Unknown',
      members: description?.members.length ?? 0,
      partitions,
    });
  }

  if (options.withAge) {
    const lagging = result.flatMap((g) => g.partitions).filter((p) => p.lag > 0);
    const starts = lagging.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      offset: Math.max(p.committedOffset ?? 0, ends.get(p.topic)?.get(p.partition)?.low ?? 0),
    }));
    const timestamps = await readTimestamps(admin, options.withAge.kafka, starts, options.withAge.timeoutMs ?? 3000);
    const now = (options.now ?? Date.now)();
    for (const group of result) {
      group.partitions.forEach((p, i) => {
        const ts = timestamps.get(`${p.topic}:${p.partition}`);
        if (p.lag > 0 && ts !== undefined) {
          group.partitions[i] = { ...p, oldestUnconsumedAgeMs: Math.max(0, now - ts) };
        }
      });
    }
  }
  return result;
}

/** Marks the short-lived groups of the age probe, so lag listings leave them out. */
const PROBE_MARK = 'orchestrator-lag-probe';

/**
 * Timestamps of the first message at or after each start offset, keyed `topic:partition`. A short-lived consumer in a
 * group of its own reads them; whatever has not arrived when the timeout passes is left out.
 */
async function readTimestamps(
  admin: Admin,
  kafka: Kafka,
  starts: readonly { topic: string; partition: number; offset: number }[],
  timeoutMs: number,
): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  if (!starts.length) return found;
  const wanted = new Map(starts.map((s) => [`${s.topic}:${s.partition}`, s.offset]));
  const groupId = `${PROBE_MARK}-${randomBytes(6).toString('hex')}`;
  const consumer = openConsumer(kafka, { groupId, sessionTimeout: 10_000, maxWaitTimeInMs: 100 });
  let done!: () => void;
  const allFound = new Promise<void>((resolve) => (done = resolve));
  const timer = setTimeout(() => done(), timeoutMs);
  try {
    await consumer.connect();
    const topics = [...new Set(starts.map((s) => s.topic))];
    await consumer.subscribe({ topics, fromBeginning: false });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const s of starts) consumer.seek({ topic: s.topic, partition: s.partition, offset: String(s.offset) });
    });
    await consumer.run({
      autoCommit: false,
      // eslint-disable-next-line @typescript-eslint/require-await -- kafkajs wants a promise; nothing to wait for
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}:${batch.partition}`;
        const from = wanted.get(key);
        if (from === undefined || found.has(key)) return;
        const first = batch.messages.find((m) => Number(m.offset) >= from);
        if (first) found.set(key, Number(first.timestamp));
        if (found.size === wanted.size) done();
      },
    });
    await allFound;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return found;
}

/** Deletes the probe groups an interrupted age read may have left behind (they hold no offsets). */
export async function deleteLagProbeGroups(admin: Admin): Promise<void> {
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(PROBE_MARK));
  if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
}
