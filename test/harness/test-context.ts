import pTimeout from 'p-timeout';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import type { Logger } from 'pino';
import { loadConfig, type AppConfig } from '#libs/config';
import { dropDatabase, ensureDatabase, withDatabase } from '#libs/db';
import { deleteSubjects } from '#libs/events';
import {
  createKafka,
  deleteGroupsWithPrefix,
  deleteTopicsWithPrefix,
  openAdmin,
  topicCatalog,
  type TopicSpec,
} from '#libs/kafka';
import { createLogger } from '#libs/observability';
import { describeOpenResources, openResources } from '#libs/resources';

export class ResourceLeak extends Error {
  override readonly name = 'ResourceLeak';
}

/** Throws, naming each one, if anything opened through our factories is still open. */
export function assertNoOpenResources(): void {
  const open = openResources();
  if (open.length) {
    throw new ResourceLeak(`${open.length} resource(s) left open by this test file:\n${describeOpenResources(open)}`);
  }
}

/**
 * A clean-up step that hangs (a pool ending while a failed test still holds one of its connections) fails after this,
 * named, instead of holding the whole file until the runner's timeout reports only that the file hung.
 */
const CLEANUP_LIMIT_MS = 30_000;

async function withinCleanupLimit(cleanup: () => unknown): Promise<void> {
  await pTimeout(Promise.resolve().then(cleanup), {
    milliseconds: CLEANUP_LIMIT_MS,
    message: `a clean-up step did not finish in ${CLEANUP_LIMIT_MS} ms: ${String(cleanup)}`,
  });
}

export interface TestContext {
  /** Unique per test file: names its database, topic prefix and consumer groups. */
  readonly id: string;
  /** Config pointing at this file's own database and topics; everything else as the stack gives it. */
  readonly config: AppConfig;
  readonly databaseUrl: string;
  readonly topicPrefix: string;
  readonly topics: TopicSpec[];
  readonly logger: Logger;
  /** A consumer group name private to this file. */
  group(name: string): string;
  topic(logicalName: string): TopicSpec;
  /** Registers clean-up to run after the file's tests, in reverse order, before the leak check. */
  defer(cleanup: () => unknown): void;
}

/**
 * Call once at the top of a test file. Before its tests: a fresh database cloned from the migrated template, and a
 * topic prefix of its own. After them: deferred clean-ups, then a check that no Kafka client, pool or Redis client was
 * left open (the file fails if one was), then its database and topics are dropped.
 */
export function useTestContext(name: string, options: { partitions?: number } = {}): TestContext {
  const id = `${name.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const topicPrefix = `test.${id}.`;
  const server = process.env.TEST_DATABASE_SERVER;
  const template = process.env.TEST_DATABASE_TEMPLATE;
  if (!server || !template) {
    throw new Error('Run tests through `npm test` (its global setup prepares the stack and the template database).');
  }
  const databaseUrl = withDatabase(process.env.DATABASE_URL ?? server, `t_${id}`);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    KAFKA_TOPIC_PREFIX: topicPrefix,
    KAFKA_PARTITIONS: String(options.partitions ?? 3),
    KAFKA_CLIENT_ID: `test-${id}`,
    // Redis is shared by every file: rate-limit counters of one must not spend another's budget.
    REDIS_KEY_PREFIX: `test.${id}:`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
  });
  const topics = topicCatalog({ prefix: topicPrefix, partitions: config.KAFKA_PARTITIONS, replicationFactor: 1 });
  const cleanups: (() => unknown)[] = [];
  const logger = createLogger({ component: `test:${name}` }, config.LOG_LEVEL);

  before(async () => {
    await ensureDatabase(databaseUrl, { template });
  });

  after(async () => {
    // Every clean-up runs even if one fails, or a failed one would leave the rest (and the process) hanging.
    const failures: unknown[] = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        await withinCleanupLimit(cleanup);
      } catch (error) {
        failures.push(error);
      }
    }
    let leak: Error | undefined;
    try {
      assertNoOpenResources();
    } catch (error) {
      leak = error as Error;
    }
    await dropDatabase(databaseUrl);
    const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `test-cleanup-${id}`, logger });
    const kafkaAdmin = openAdmin(kafka, 'test-cleanup');
    await kafkaAdmin.connect();
    try {
      await deleteTopicsWithPrefix(kafkaAdmin, topicPrefix);
      // A group whose member was killed (the SIGKILL tests) stays busy until its session lapses; it is harmless.
      await deleteGroupsWithPrefix(kafkaAdmin, topicPrefix).catch(() => undefined);
    } finally {
      await kafkaAdmin.disconnect();
    }
    await deleteSubjects(config.SCHEMA_REGISTRY_URL, topicPrefix);
    if (failures.length) throw new AggregateError(failures, `${failures.length} clean-up step(s) failed`);
    if (leak) throw leak;
  });

  return {
    id,
    config,
    databaseUrl,
    topicPrefix,
    topics,
    logger,
    group: (groupName) => `${topicPrefix}${groupName}`,
    topic: (logicalName) => {
      const spec = topics.find((t) => t.logicalName === logicalName);
      if (!spec) throw new Error(`no topic ${logicalName} in the catalog`);
      return spec;
    },
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
  };
}
