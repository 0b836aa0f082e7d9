export { configSchema, type AppConfig } from './config.schema.js';
export { ConfigError, loadConfig } from './load-config.js';
