import type { ApiClient } from './api-client.js';

/** A /metrics scrape reduced to one number per metric name (summed over label sets). */
export type Scrape = ReadonlyMap<string, number>;

/** One sample line of a /metrics text: name, labels, value. */
export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape kept with its labels (of one process, or merged over several). */
export interface Snapshot {
  readonly totals: Scrape;
  readonly series: readonly Series[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text format (the sample lines; comments and non-finite values are skipped). */
export function parseMetrics(text: string): Snapshot {
  const totals = new Map<string, number>();
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const name = match[1] as string;
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? '').matchAll(LABEL))
      labels[key as string] = (raw as string).replace(/\\(.)/g, '$1');
    series.push({ name, labels, value });
    if (Number.isFinite(value)) totals.set(name, (totals.get(name) ?? 0) + value);
  }
  return { totals, series };
}

/**
 * Scrapes through the benchmark's own client, whose connections are closed before the service is stopped: a keep-alive
 * connection still open at SIGTERM would hold up the service's graceful shutdown.
 */
export async function scrapeSnapshot(client: ApiClient): Promise<Snapshot> {
  const response = await client.get('/metrics');
  if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status}`);
  return parseMetrics(response.text);
}

export async function scrape(client: ApiClient): Promise<Scrape> {
  return (await scrapeSnapshot(client)).totals;
}

/** Scrapes several processes at once and adds their samples up (totals summed, series side by side). */
export async function scrapeAll(clients: readonly ApiClient[]): Promise<Snapshot> {
  const snapshots = await Promise.all(clients.map(scrapeSnapshot));
  const totals = new Map<string, number>();
  for (const s of snapshots) for (const [name, value] of s.totals) totals.set(name, (totals.get(name) ?? 0) + value);
  return { totals, series: snapshots.flatMap((s) => s.series) };
}

/** after - before of every series of `name` matching `where`, summed by the value of label `by` ('' for all). */
export function seriesDelta(
  before: Snapshot,
  after: Snapshot,
  name: string,
  by: string | undefined,
  where: (labels: Readonly<Record<string, string>>) => boolean = () => true,
): Map<string, number> {
  const sums = new Map<string, number>();
  const add = (snapshot: Snapshot, sign: number) => {
    for (const s of snapshot.series) {
      if (s.name !== name || !where(s.labels) || !Number.isFinite(s.value)) continue;
      const key = by ? (s.labels[by] ?? '') : '';
      sums.set(key, (sums.get(key) ?? 0) + sign * s.value);
    }
  };
  add(after, 1);
  add(before, -1);
  return sums;
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
