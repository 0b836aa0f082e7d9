export { avroToTypeScript, type SchemaFile } from './avro-to-typescript.js';
export {
  createSchemaRegistry,
  deleteSubjects,
  EventCodec,
  InvalidEvent,
  UnknownTopicSchema,
  valueSubject,
} from './event-codec.js';
export type * from './generated/event-types.js';
export { GENERATED_TYPES_FILE, readSchemaFiles, SCHEMAS_DIR } from './schema-files.js';
export { envelope } from './event-envelope.js';
export { runControlEvent } from './run-control.js';
