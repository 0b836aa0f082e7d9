import { Counter, type Registry } from 'prom-client';

/**
 * Hits and misses of one in-process cache, `cache_requests_total{cache,result}`, and the time its hits saved,
 * `cache_time_saved_seconds_total{cache}`: each hit adds the running average (EWMA) of what a miss cost to load.
 */
export class CacheTracker {
  private missCostSeconds: number | undefined;

  constructor(
    private readonly cache: string,
    private readonly requests: Counter<'cache' | 'result'>,
    private readonly saved: Counter<'cache' | 'node_type'>,
  ) {
    requests.inc({ cache, result: 'hit' }, 0);
    requests.inc({ cache, result: 'miss' }, 0);
    saved.inc({ cache }, 0);
  }

  hit(count = 1): void {
    if (count <= 0) return;
    this.requests.inc({ cache: this.cache, result: 'hit' }, count);
    if (this.missCostSeconds !== undefined) this.saved.inc({ cache: this.cache }, count * this.missCostSeconds);
  }

  /** `count` misses whose loading took `loadSeconds` in all. */
  miss(count: number, loadSeconds: number): void {
    if (count <= 0) return;
    this.requests.inc({ cache: this.cache, result: 'miss' }, count);
    const each = Math.max(0, loadSeconds) / count;
    this.missCostSeconds = this.missCostSeconds === undefined ? each : 0.9 * this.missCostSeconds + 0.1 * each;
  }
}

export interface CacheCounters {
  readonly requests: Counter<'cache' | 'result'>;
  /** `node_type` only on the node result cache's series. */
  readonly saved: Counter<'cache' | 'node_type'>;
}

const perRegistry = new WeakMap<Registry, CacheCounters>();

/** The counters every cache of the registry shares (made on first use). */
export function cacheCounters(registry: Registry): CacheCounters {
  let counters = perRegistry.get(registry);
  if (!counters) {
    counters = {
      requests: new Counter({
        name: 'cache_requests_total',
        help: 'In-process cache lookups, by cache and hit or miss',
        labelNames: ['cache', 'result'],
        registers: [registry],
      }),
      saved: new Counter({
        name: 'cache_time_saved_seconds_total',
        help:
          'Time cache hits saved, by cache (and node type for node results): an in-process cache counts the average ' +
          'time a miss took to load per hit, the node result cache the duration of the attempt that produced the result',
        labelNames: ['cache', 'node_type'],
        registers: [registry],
      }),
    };
    perRegistry.set(registry, counters);
  }
  return counters;
}

/** The tracker of cache `cache` (a fixed name) on this registry; the counters are shared by every cache of the registry. */
export function cacheTracker(registry: Registry, cache: string): CacheTracker {
  const counters = cacheCounters(registry);
  return new CacheTracker(cache, counters.requests, counters.saved);
}
