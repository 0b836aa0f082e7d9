export { createLogger, PinoNestLogger } from './logger.js';
export { createMetricsRegistry } from './metrics.js';
