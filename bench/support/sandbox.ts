import { randomBytes } from 'node:crypto';
import { loadConfig, type AppConfig } from '#libs/config';
import { dropDatabase, migrate, MIGRATIONS_DIR, withDatabase } from '#libs/db';
import { deleteSubjects } from '#libs/events';
import {
  applyTopics,
  createKafka,
  deleteGroupsWithPrefix,
  deleteTopicsWithPrefix,
  openAdmin,
  openProducer,
  topicCatalog,
  type Kafka,
  type TopicSpec,
} from '#libs/kafka';
import { benchLogger } from './progress.js';
import type { Resources } from './resources.js';

/**
 * A private copy of the platform for one measurement: a freshly migrated database, the whole topic catalog under a
 * prefix of its own, and a config pointing at both. Destroying it drops the database and deletes every topic, consumer
 * group and registry subject carrying the prefix.
 */
export interface Sandbox {
  readonly id: string;
  readonly config: AppConfig;
  readonly databaseUrl: string;
  readonly topicPrefix: string;
  readonly kafka: Kafka;
  /** The whole catalog under the sandbox's prefix. */
  readonly topics: readonly TopicSpec[];
  topic(logicalName: string): TopicSpec;
  group(name: string): string;
}

export async function createSandbox(
  base: AppConfig,
  name: string,
  partitions: number,
  resources: Resources,
): Promise<Sandbox> {
  const id = `bench_${name}_${randomBytes(4).toString('hex')}`;
  const databaseUrl = withDatabase(base.DATABASE_URL, id);
  const topicPrefix = `bench.${id}.`;
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    KAFKA_TOPIC_PREFIX: topicPrefix,
    KAFKA_PARTITIONS: String(partitions),
    KAFKA_CLIENT_ID: id,
    LOG_LEVEL: 'warn',
  });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: id, logger: benchLogger });
  const topics = topicCatalog({ prefix: topicPrefix, partitions, replicationFactor: 1 });
  // Registered before anything is created, so a failure half-way still cleans up what exists.
  resources.defer(`sandbox ${id}`, () => destroy(config, id, topicPrefix, kafka));
  await migrate(databaseUrl, MIGRATIONS_DIR);
  const admin = openAdmin(kafka, `${id}-topics`);
  await admin.connect();
  try {
    await applyTopics(admin, topics);
  } finally {
    await admin.disconnect();
  }
  return {
    id,
    config,
    databaseUrl,
    topicPrefix,
    kafka,
    topics,
    topic: (logicalName) => {
      const spec = topics.find((t) => t.logicalName === logicalName);
      if (!spec) throw new Error(`no topic ${logicalName} in the catalog`);
      return spec;
    },
    group: (groupName) => `${topicPrefix}${groupName}`,
  };
}

/** Each step runs even if another failed, so one unreachable service does not leave the rest behind. */
async function destroy(config: AppConfig, database: string, prefix: string, kafka: Kafka): Promise<void> {
  const results = await Promise.allSettled([
    dropDatabase(withDatabase(config.DATABASE_URL, database)),
    deleteKafkaState(kafka, prefix, config.CONSUMER_SESSION_TIMEOUT_MS + 5_000),
    deleteSubjects(config.SCHEMA_REGISTRY_URL, prefix),
  ]);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length) throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
}

/** Deletes the sandbox's topics, then its consumer groups (waiting out members of killed processes). */
async function deleteKafkaState(kafka: Kafka, prefix: string, groupWaitMs: number): Promise<void> {
  const admin = openAdmin(kafka, `${prefix}cleanup`);
  await admin.connect();
  try {
    await deleteTopicsWithPrefix(admin, prefix);
    await deleteGroupsWithPrefix(admin, prefix, groupWaitMs);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Sends one message to every partition of a new topic and waits for the acknowledgements. `createTopics` returns once
 * metadata names a leader, but the broker may still refuse produce requests for a moment (NOT_LEADER_FOR_PARTITION,
 * retried with backoff); a measurement that starts right after creating its topic would time those retries.
 */
export async function waitUntilWritable(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const producer = openProducer(kafka, `${topic}-probe`);
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: partitions }, (_, partition) => ({ partition, key: 'probe', value: 'probe' })),
    });
  } finally {
    await producer.disconnect();
  }
}
