/** Injection tokens of what every role shares in one process. */
export const CONFIG = Symbol('AppConfig');
export const PG_POOL = Symbol('PgPool');
export const REDIS = Symbol('Redis');
export const KAFKA = Symbol('Kafka');
export const KAFKA_ADMIN = Symbol('KafkaAdmin');
export const METRICS_REGISTRY = Symbol('MetricsRegistry');
export const LOGGER = Symbol('Logger');
export const ROLES = Symbol('Roles');
export const EVENT_CODEC = Symbol('EventCodec');
/** The text /metrics answers: this process's registry, or every process's when several share the port. */
export const METRICS_SOURCE = Symbol('MetricsSource');
/** Where content blobs' bytes go (CAS_BACKEND), shared by every role's ContentStore. */
export const BLOB_BACKEND = Symbol('BlobBackend');
