import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createRedis } from '#libs/redis';
import { useTestContext } from '#test/harness/test-context.js';
import { instrumentRedis, registerRedisMemoryMetrics } from './metrics.js';

const ctx = useTestContext('redis-metrics');

describe('Redis metrics against the real Redis', () => {
  it('counts commands by name and outcome, and reads memory from INFO at scrape', async () => {
    const registry = new Registry();
    const redis = createRedis(ctx.config.REDIS_URL, 'redis-metrics-test');
    ctx.defer(() => redis.quit());
    instrumentRedis(redis, registry);
    registerRedisMemoryMetrics(redis, registry);
    await redis.connect();
    await redis.ping();
    await redis.ping();
    await assert.rejects(redis.call('NO_SUCH_COMMAND'));
    const ops = (await registry.getMetricsAsJSON()).find((m) => m.name === 'redis_ops_total');
    const count = (operation: string, status: string) =>
      ops?.values.find((v) => v.labels.operation === operation && v.labels.status === status)?.value;
    assert.equal(count('ping', 'ok'), 2);
    assert.equal(count('ping', 'error'), 0);
    assert.equal(count('no_such_command', 'error'), 1);
    const text = await registry.metrics();
    const used = Number(/^redis_memory_used_bytes (\d+)/m.exec(text)?.[1]);
    assert.ok(used > 0, text);
    assert.match(text, /^redis_memory_max_bytes \d+/m);
  });
});
