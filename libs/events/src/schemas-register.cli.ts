import { loadConfig } from '#libs/config';
import { topicCatalog } from '#libs/kafka';
import { createLogger } from '#libs/observability';
import { createSchemaRegistry, EventCodec } from './event-codec.js';
import { readSchemaFiles } from './schema-files.js';

const logger = createLogger({ component: 'schemas-register' });
try {
  const config = loadConfig();
  const topics = topicCatalog({
    prefix: config.KAFKA_TOPIC_PREFIX,
    partitions: config.KAFKA_PARTITIONS,
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
  });
  const codec = new EventCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics, await readSchemaFiles());
  for (const { subject, id } of await codec.registerAll()) {
    process.stdout.write(`registered ${subject} (id ${id}, BACKWARD)\n`);
  }
} catch (error) {
  logger.error({ err: error }, `schema registration failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
