import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openAdmin, type Kafka, type TopicSpec } from '#libs/kafka';

/** Records (offsets, so transaction markers too) and log bytes one window added to each of a sandbox's topics. */
export interface KafkaVolume {
  readonly byTopic: Record<string, { records: number; bytes: number }>;
  readonly records: number;
  /** NaN when the broker's log directory is not on this machine. */
  readonly bytes: number;
}

/**
 * The local broker's log directory: BENCH_KAFKA_LOG_DIR, else `log.dirs` of the stack's server.properties. Bytes are
 * the sizes of the partitions' `.log` segment files, which hold the record batches as the producers sent them.
 */
function logDir(): string | undefined {
  if (process.env.BENCH_KAFKA_LOG_DIR) return process.env.BENCH_KAFKA_LOG_DIR;
  try {
    const properties = readFileSync('.local/kafka/server.properties', 'utf8');
    return /^log\.dirs=(.+)$/m.exec(properties)?.[1]?.split(',')[0]?.trim();
  } catch {
    return undefined;
  }
}

function logBytes(dir: string | undefined, topic: string): number {
  if (!dir) return Number.NaN;
  let bytes = 0;
  for (const entry of readdirSync(dir)) {
    if (!entry.startsWith(`${topic}-`) || !/^\d+$/.test(entry.slice(topic.length + 1))) continue;
    for (const file of readdirSync(join(dir, entry))) {
      if (file.endsWith('.log')) bytes += statSync(join(dir, entry, file)).size;
    }
  }
  return bytes;
}

async function snapshot(kafka: Kafka, topics: readonly TopicSpec[], dir: string | undefined) {
  const admin = openAdmin(kafka, 'bench-kafka-volume');
  await admin.connect();
  try {
    const entries = await Promise.all(
      topics.map(async (t) => {
        const offsets = await admin.fetchTopicOffsets(t.name);
        const records = offsets.reduce((sum, p) => sum + Number(p.high), 0);
        return [t.logicalName, { records, bytes: logBytes(dir, t.name) }] as const;
      }),
    );
    return new Map(entries);
  } finally {
    await admin.disconnect();
  }
}

/** Snapshots the topics now; the returned function snapshots them again and gives the difference. */
export async function measureKafkaVolume(
  kafka: Kafka,
  topics: readonly TopicSpec[],
): Promise<() => Promise<KafkaVolume>> {
  const dir = logDir();
  const before = await snapshot(kafka, topics, dir);
  return async () => {
    const after = await snapshot(kafka, topics, dir);
    const byTopic: Record<string, { records: number; bytes: number }> = {};
    for (const [topic, a] of after) {
      const b = before.get(topic) ?? { records: 0, bytes: 0 };
      const delta = { records: a.records - b.records, bytes: a.bytes - b.bytes };
      if (delta.records > 0) byTopic[topic] = delta;
    }
    const values = Object.values(byTopic);
    return {
      byTopic,
      records: values.reduce((sum, v) => sum + v.records, 0),
      bytes: values.reduce((sum, v) => sum + v.bytes, 0),
    };
  };
}
