export { createRedis, masters, Cluster, type RedisClient, type RedisClientOptions } from './redis.js';
