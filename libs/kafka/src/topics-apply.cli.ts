import { loadConfig } from '#libs/config';
import { createLogger } from '#libs/observability';
import { createKafka, openAdmin } from './kafka-client.js';
import { describePlan } from './topic-plan.js';
import { applyTopics, TopicChangeRefused } from './topic-apply.js';
import { topicCatalog } from './topics.js';

const logger = createLogger({ component: 'topics-apply' });
const config = loadConfig();
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-topics`, logger });
const admin = openAdmin(kafka, 'topics-apply');
const write = (line: string) => process.stdout.write(`${line}\n`);
try {
  await admin.connect();
  const plan = await applyTopics(
    admin,
    topicCatalog({
      prefix: config.KAFKA_TOPIC_PREFIX,
      partitions: config.KAFKA_PARTITIONS,
      replicationFactor: config.KAFKA_REPLICATION_FACTOR,
    }),
  );
  describePlan(plan)
    .filter((line) => !line.startsWith('ok '))
    .forEach(write);
  const unchanged = plan.actions.filter((a) => a.kind === 'unchanged').length;
  write(`${plan.actions.length} topics in the catalog, ${unchanged} already as declared`);
} catch (error) {
  if (error instanceof TopicChangeRefused) {
    describePlan(error.plan).forEach(write);
    process.stderr.write(`${error.message}\n`);
  } else {
    logger.error({ err: error }, (error as Error).message);
  }
  process.exitCode = 1;
} finally {
  await admin.disconnect();
}
