// Engine settings scaled to the machine: Postgres (postgresql.conf fragment). Kafka's live in libs/kafka and
// infra/kafka, Redis' in infra/redis.
export {
  DEFAULT_MAX_CONNECTIONS,
  formatMemory,
  PostgresMachineError,
  postgresSettings,
  REFERENCE_MACHINE,
  renderPostgresConf,
  type PostgresMachine,
  type PostgresSetting,
} from './postgres-config.js';
export { parseMemorySize, readMachineSize } from './machine-size.js';
