import { loadConfig } from '#libs/config';
import { createLogger } from '#libs/observability';
import { createSchemaRegistry, EventCodec } from './event-codec.js';
import { readSchemaFiles } from './schema-files.js';
import { TopicNames } from './topic-contract.js';

const logger = createLogger({ component: 'schemas-register' });
try {
  const config = loadConfig();
  const names = new TopicNames(config.KAFKA_TOPIC_PREFIX);
  const codec = new EventCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), names, await readSchemaFiles());
  for (const { subject, id } of await codec.registerAll()) {
    process.stdout.write(`registered ${subject} (id ${id}, BACKWARD)\n`);
  }
} catch (error) {
  logger.error({ err: error }, `schema registration failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
