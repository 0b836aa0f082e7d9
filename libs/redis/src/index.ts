export { createRedis } from './redis.js';
