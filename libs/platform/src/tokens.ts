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
