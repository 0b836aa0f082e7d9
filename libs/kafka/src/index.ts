export {
  CONSUMER_OPTIONS,
  CONSUMER_PROPERTIES,
  IDEMPOTENT_PRODUCER,
  KAFKA_CONNECTION,
  KAFKAJS_GAPS,
  PRODUCER_OPTIONS,
  PRODUCER_PROPERTIES,
  toKafkajsConsumer,
  toKafkajsProducer,
  type ConsumerProperties,
  type KafkajsConsumerOptions,
  type KafkajsProducerOptions,
  type ProducerProperties,
} from './client-settings.js';
export { createKafka, openAdmin, openConsumer, openProducer } from './kafka-client.js';
export {
  applyTopics,
  createTopicsAndWait,
  deleteGroupsWithPrefix,
  deleteTopics,
  deleteTopicsWithPrefix,
  readExistingTopics,
  TopicChangeRefused,
} from './topic-apply.js';
export { describePlan, planTopicChanges, type ExistingTopic, type TopicAction, type TopicPlan } from './topic-plan.js';
export { minInsyncReplicas, topicCatalog, topicConfigEntries, type TopicSpec } from './topics.js';
export { chunkByBytes, messageBytes } from './request-size.js';
export { KeyPartitioner, partitionOfKey } from './key-partitioner.js';
export { readTopic, type ReadOptions } from './topic-reader.js';
export { AssignerProtocol, CompressionTypes } from './kafkajs.js';
export type {
  Admin,
  Consumer,
  PartitionAssigner,
  EachBatchPayload,
  IHeaders,
  Kafka,
  KafkaMessage,
  Message,
  TopicMessages,
  Transaction,
  Producer,
} from './kafkajs.js';
export { deleteLagProbeGroups, readConsumerLag, type GroupLag, type PartitionLag } from './consumer-lag.js';
export { LagExporter, lagExporterProvider, type ExporterLeader, type LagExporterOptions } from './lag-exporter.js';
