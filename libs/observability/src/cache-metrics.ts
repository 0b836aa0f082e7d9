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
    private readonly saved: Counter<'cache'>,
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

const perRegistry = new WeakMap<Registry, { requests: Counter<'cache' | 'result'>; saved: Counter<'cache'> }>();

/** The tracker of cache `cache` (a fixed name) on this registry; the counters are shared by every cache of the registry. */
export function cacheTracker(registry: Registry, cache: string): CacheTracker {
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
        help: 'Estimated time cache hits saved: each hit counts the average time a miss took to load',
        labelNames: ['cache'],
        registers: [registry],
      }),
    };
    perRegistry.set(registry, counters);
  }
  return new CacheTracker(cache, counters.requests, counters.saved);
}
