import { writeFile } from 'node:fs/promises';
import { KAFKA_TOPICS_FILE, KAFKA_TOPICS_PATH, kafkaTopicResources, renderKafkaTopics } from './kafka-topics.js';

/** `npm run deploy:topics`: writes the Strimzi KafkaTopic resources of the production catalog. */
await writeFile(KAFKA_TOPICS_PATH, await renderKafkaTopics());
process.stdout.write(`wrote ${kafkaTopicResources().length} KafkaTopic resources to ${KAFKA_TOPICS_FILE}\n`);
