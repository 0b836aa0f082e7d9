import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fastify } from 'fastify';
import { Registry } from 'prom-client';
import { cacheTracker, instrumentHttp, parseRedisMemoryInfo, registerPoolMetrics } from './metrics.js';

async function sample(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, value]) => (v.labels as Record<string, unknown>)[k] === value),
  );
  return match?.value;
}

describe('metrics helpers', () => {
  it('cache tracker: hits and misses, time saved is hits times the average miss cost', async () => {
    const registry = new Registry();
    const cache = cacheTracker(registry, 'c');
    assert.equal(await sample(registry, 'cache_requests_total', { cache: 'c', result: 'hit' }), 0);
    cache.hit(); // nothing known about a miss's cost yet: saves nothing
    cache.miss(2, 0.2); // 0.1 s each
    cache.hit(3);
    assert.equal(await sample(registry, 'cache_requests_total', { cache: 'c', result: 'hit' }), 4);
    assert.equal(await sample(registry, 'cache_requests_total', { cache: 'c', result: 'miss' }), 2);
    const saved = await sample(registry, 'cache_time_saved_seconds_total', { cache: 'c' });
    assert.ok(Math.abs((saved ?? 0) - 0.3) < 1e-9, String(saved));
    // A second cache on the same registry shares the counters rather than registering them twice.
    cacheTracker(registry, 'd').hit();
    assert.equal(await sample(registry, 'cache_requests_total', { cache: 'd', result: 'hit' }), 1);
  });

  it('pool gauges read the pool at scrape time', async () => {
    const registry = new Registry();
    const pool = { totalCount: 7, idleCount: 2, waitingCount: 3, options: { max: 7 } };
    registerPoolMetrics(registry, pool);
    assert.equal(await sample(registry, 'pg_pool_connections', { state: 'in_use' }), 5);
    assert.equal(await sample(registry, 'pg_pool_connections', { state: 'idle' }), 2);
    assert.equal(await sample(registry, 'pg_pool_connections', { state: 'waiting' }), 3);
    assert.equal(await sample(registry, 'pg_pool_max'), 7);
  });

  it('parses INFO memory', () => {
    const info = '# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\n';
    assert.deepEqual(parseRedisMemoryInfo(info), { used: 1048576, max: 0 });
    assert.equal(parseRedisMemoryInfo('# Memory\r\n'), undefined);
  });

  it('HTTP durations are labelled by route pattern and status class, never by URL', async () => {
    const registry = new Registry();
    const app = fastify();
    instrumentHttp(app, registry);
    app.get('/v1/runs/:id', async (request, reply) =>
      (request.params as { id: string }).id === 'missing' ? reply.code(404).send({}) : { ok: true },
    );
    await app.ready();
    try {
      await app.inject({ method: 'GET', url: '/v1/runs/1' });
      await app.inject({ method: 'GET', url: '/v1/runs/2' });
      await app.inject({ method: 'GET', url: '/v1/runs/missing' });
      await app.inject({ method: 'GET', url: '/nowhere/3' });
    } finally {
      await app.close();
    }
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'http_request_duration_seconds');
    const counts = Object.fromEntries(
      (metric?.values ?? [])
        .filter((v) => (v as { metricName?: string }).metricName === 'http_request_duration_seconds_count')
        .map((v) => [`${v.labels.method} ${v.labels.route} ${v.labels.status}`, v.value]),
    );
    assert.deepEqual(counts, { 'GET /v1/runs/:id 2xx': 2, 'GET /v1/runs/:id 4xx': 1, 'GET unmatched 4xx': 1 });
  });
});
