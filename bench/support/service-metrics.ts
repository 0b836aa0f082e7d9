import type { ApiClient } from './api-client.js';

/** A /metrics scrape reduced to one number per metric name (summed over label sets). */
export type Scrape = ReadonlyMap<string, number>;

/**
 * Scrapes through the benchmark's own client, whose connections are closed before the service is stopped: a keep-alive
 * connection still open at SIGTERM would hold up the service's graceful shutdown.
 */
export async function scrape(client: ApiClient): Promise<Scrape> {
  const response = await client.get('/metrics');
  if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status}`);
  const totals = new Map<string, number>();
  for (const line of response.text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) totals.set(match[1] as string, (totals.get(match[1] as string) ?? 0) + value);
  }
  return totals;
}

/** What the service's own metrics say about a measured window (between two scrapes). */
export interface ServiceDiagnostics {
  /** Event-loop delay over the window (prom-client resets its monitor at every scrape). */
  readonly eventLoopLagP99Ms: number;
  readonly eventLoopLagMaxMs: number;
  /** Share of the window spent in garbage collection. */
  readonly gcPercent: number;
  readonly materializeBatches: number;
  readonly patchesPerMaterializeBatch: number;
  readonly materializeBatchMs: number;
  readonly relayBatches: number;
  readonly rowsPerRelayBatch: number;
  readonly relayPublishMs: number;
}

export function diagnose(before: Scrape, after: Scrape, windowMs: number): ServiceDiagnostics {
  const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const ratio = (sum: string, count: string, scale = 1) => (delta(count) ? (delta(sum) / delta(count)) * scale : NaN);
  return {
    eventLoopLagP99Ms: (after.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
    eventLoopLagMaxMs: (after.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
    gcPercent: (delta('nodejs_gc_duration_seconds_sum') / (windowMs / 1000)) * 100,
    materializeBatches: delta('materializer_batch_duration_seconds_count'),
    patchesPerMaterializeBatch: ratio('materializer_batch_patches_sum', 'materializer_batch_patches_count'),
    materializeBatchMs: ratio(
      'materializer_batch_duration_seconds_sum',
      'materializer_batch_duration_seconds_count',
      1000,
    ),
    relayBatches: delta('outbox_publish_batch_size_count'),
    rowsPerRelayBatch: ratio('outbox_publish_batch_size_sum', 'outbox_publish_batch_size_count'),
    relayPublishMs: ratio('outbox_publish_duration_seconds_sum', 'outbox_publish_duration_seconds_count', 1000),
  };
}
