export { createRedis, masters, pingClusterNode, Cluster, type RedisClient, type RedisClientOptions } from './redis.js';
