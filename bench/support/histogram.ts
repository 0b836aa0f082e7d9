import type { Snapshot } from './service-metrics.js';

/** A Prometheus histogram's change over a window: cumulative bucket counts (ascending `le`, +Inf last), count, sum. */
export interface HistogramWindow {
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
  readonly count: number;
  readonly sum: number;
}

/**
 * The change of histogram `name` between two scrapes, one per value of label `by` (all label sets summed when `by` is
 * undefined, under the key ''). Counters only grow, so after - before is what was observed in between.
 */
export function histogramWindows(
  before: Snapshot,
  after: Snapshot,
  name: string,
  by?: string,
): Map<string, HistogramWindow> {
  const acc = new Map<string, { buckets: Map<number, number>; count: number; sum: number }>();
  const entry = (key: string) => {
    let found = acc.get(key);
    if (!found) acc.set(key, (found = { buckets: new Map(), count: 0, sum: 0 }));
    return found;
  };
  const add = (snapshot: Snapshot, sign: number) => {
    for (const s of snapshot.series) {
      const key = by ? (s.labels[by] ?? '') : '';
      if (s.name === `${name}_bucket`) {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        const buckets = entry(key).buckets;
        buckets.set(le, (buckets.get(le) ?? 0) + sign * s.value);
      } else if (s.name === `${name}_count`) entry(key).count += sign * s.value;
      else if (s.name === `${name}_sum`) entry(key).sum += sign * s.value;
    }
  };
  add(after, 1);
  add(before, -1);
  const windows = new Map<string, HistogramWindow>();
  for (const [key, { buckets, count, sum }] of acc) {
    const sorted = [...buckets].sort(([a], [b]) => a - b).map(([le, n]) => ({ le, count: n }));
    windows.set(key, { buckets: sorted, count, sum });
  }
  return windows;
}

/**
 * The q-quantile (0..1) interpolated linearly within its bucket, as Prometheus' histogram_quantile does: the lower
 * bound of the first bucket is 0. A quantile in the +Inf bucket is Infinity (above the last bound: unknown); no
 * observations give NaN. Only as precise as the buckets are fine (1, 5, 10, 50, ... says little between 10 and 50).
 */
export function bucketQuantile(window: HistogramWindow, q: number): number {
  const total = window.buckets[window.buckets.length - 1]?.count ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const { le, count } of window.buckets) {
    if (count >= rank && count > lowerCount) {
      if (le === Infinity) return Infinity;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return Infinity;
}

/** The exact mean from the histogram's own sum and count. */
export function histogramMean(window: HistogramWindow): number {
  return window.count > 0 ? window.sum / window.count : Number.NaN;
}
