import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** The label telling the API processes sharing one port apart on the merged /metrics. */
export const PROCESS_INDEX_LABEL = 'process_index';

export interface ProcessMetrics {
  readonly index: number;
  readonly metrics: MetricObjectWithValues<MetricValue<string>>[];
}

/**
 * One exposition of every process's registry, each series labelled with its process index. Nothing is summed or
 * averaged: a per-process gauge (event-loop lag, pool size) keeps its meaning, and Prometheus aggregates as it does
 * across instances (`sum without (process_index)`). prom-client's merger groups samples by name and labels; with the
 * label every group has one sample, so the aggregator only has to pass it through ('omit' would drop it: forced away).
 */
export async function mergeProcessMetrics(parts: readonly ProcessMetrics[]): Promise<string> {
  const labelled = [...parts]
    .sort((a, b) => a.index - b.index)
    .map((part) =>
      part.metrics.map((metric) => ({
        ...metric,
        aggregator: 'first' as const,
        values: metric.values.map((value) => ({
          ...value,
          labels: { ...value.labels, [PROCESS_INDEX_LABEL]: String(part.index) },
        })),
      })),
    );
  return AggregatorRegistry.aggregate(labelled).metrics();
}
