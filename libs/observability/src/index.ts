export { createLogger, PinoNestLogger } from './logger.js';
export * from './metrics.js';
