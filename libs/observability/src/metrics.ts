import { collectDefaultMetrics, Registry } from 'prom-client';

export { cacheCounters, cacheTracker, CacheTracker, type CacheCounters } from './cache-metrics.js';
export { instrumentHttp } from './http-metrics.js';
export { registerPoolMetrics, type PoolStats } from './pool-metrics.js';
export { registerRunAgeMetrics } from './run-age-metrics.js';
export { registerReplicaLagMetrics } from './replica-lag-metrics.js';
export { instrumentRedis, parseRedisMemoryInfo, registerRedisMemoryMetrics } from './redis-metrics.js';

/**
 * One registry per Nest application rather than prom-client's global one: a test can start several apps in one
 * process, and the all-in-one root merges every role's metrics into a single /metrics without name clashes.
 * Process and event-loop metrics (prom-client's defaults: CPU, memory, handles, GC, event-loop lag) come with it.
 */
export function createMetricsRegistry(defaultLabels: Record<string, string>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return registry;
}
