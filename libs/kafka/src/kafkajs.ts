// kafkajs is CommonJS whose exports Node's ESM loader cannot see by name; this is the one place that unwraps it.
import kafkajs from 'kafkajs';
import type * as K from 'kafkajs';

export const {
  Kafka,
  AssignerProtocol,
  CompressionCodecs,
  CompressionTypes,
  ConfigResourceTypes,
  Partitioners,
  logLevel,
} = kafkajs;
export type Kafka = K.Kafka;
export type logLevel = K.logLevel;
export type CompressionTypes = K.CompressionTypes;
export type * from 'kafkajs';
