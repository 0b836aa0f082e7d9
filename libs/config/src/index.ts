export { configSchema, LOCAL_BOOTSTRAP_ADMIN_KEY, type AppConfig } from './config.schema.js';
export { ConfigError, loadConfig } from './load-config.js';
export {
  SENSITIVE_DETECTORS,
  type SensitiveDetectorName,
  type TokenPrice,
  type WorkspaceCachePolicy,
} from './cache-settings.js';
export { parseRedisAddress, type RedisAddress } from './redis-address.js';
