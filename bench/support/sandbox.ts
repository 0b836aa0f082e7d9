import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, type AppConfig } from '#libs/config';
import { migrate, MIGRATIONS_DIR, quoteIdent, splitDatabaseUrl, withDatabase } from '#libs/db';
import {
  applyTopics,
  createKafka,
  deleteTopics,
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
    dropDatabase(config.DATABASE_URL, database),
    deleteKafkaState(kafka, prefix, config.CONSUMER_SESSION_TIMEOUT_MS + 5_000),
    deleteSubjects(config.SCHEMA_REGISTRY_URL, prefix),
  ]);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length) throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
}

async function dropDatabase(databaseUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: splitDatabaseUrl(databaseUrl).maintenanceUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * Deletes the sandbox's topics, then its consumer groups. A group still has a member for a while after a process died
 * without leaving it (until its session times out), so deleting the groups is retried for up to `groupWaitMs`.
 */
async function deleteKafkaState(kafka: Kafka, prefix: string, groupWaitMs: number): Promise<void> {
  const admin = openAdmin(kafka, `${prefix}cleanup`);
  await admin.connect();
  try {
    await deleteTopics(
      admin,
      (await admin.listTopics()).filter((t) => t.startsWith(prefix)),
    );
    const deadline = Date.now() + groupWaitMs;
    for (;;) {
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
      if (!groups.length) return;
      try {
        await admin.deleteGroups(groups);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Soft- then hard-deletes the registry subjects of the sandbox's topics (the Confluent API needs both steps). */
async function deleteSubjects(registryUrl: string, prefix: string): Promise<void> {
  const response = await fetch(`${registryUrl}/subjects`);
  if (!response.ok) throw new Error(`listing registry subjects: HTTP ${response.status}`);
  const subjects = ((await response.json()) as string[]).filter((s) => s.startsWith(prefix));
  for (const subject of subjects) {
    const url = `${registryUrl}/subjects/${encodeURIComponent(subject)}`;
    await fetch(url, { method: 'DELETE' });
    await fetch(`${url}?permanent=true`, { method: 'DELETE' });
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
