import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per Nest application rather than prom-client's global one: a test can start several apps in one
 * process, and the all-in-one root merges every role's metrics into a single /metrics without name clashes.
 */
export function createMetricsRegistry(defaultLabels: Record<string, string>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return registry;
}
