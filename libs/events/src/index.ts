export { avroToTypeScript, type SchemaFile } from './avro-to-typescript.js';
export {
  createSchemaRegistry,
  deleteSubjects,
  EventCodec,
  InvalidEvent,
  RegistryUnavailable,
  type EncodedMessage,
  type EncodedOutboxRow,
  UnknownTopicSchema,
  valueSubject,
} from './event-codec.js';
export type * from './generated/event-types.js';
export { WireEncoder } from './wire-encoder.js';
export { GENERATED_TYPES_FILE, readSchemaFiles, SCHEMAS_DIR } from './schema-files.js';
export { envelope } from './event-envelope.js';
export { runControlEvent } from './run-control.js';
export {
  dispatchTopic,
  EVENT_TOPICS,
  isEventTopic,
  NODE_TYPES,
  topicContract,
  TopicNames,
  type DispatchTopic,
  type EventOf,
  type EventTopic,
  type SchemaOf,
  type TopicKey,
} from './topic-contract.js';
