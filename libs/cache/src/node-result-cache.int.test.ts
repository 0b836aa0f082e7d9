import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { instrumentRedis } from '#libs/observability';
import { createRedis, type RedisClient } from '#libs/redis';
import { useTestContext } from '#test/harness/test-context.js';
import { nodeCacheKey, type NodeCacheKey } from './cache-key.js';
import { NodeResultCache, type NodeResult, type NodeResultCacheOptions, type Served } from './node-result-cache.js';
import { RedisCacheStore } from './redis-cache-store.js';
import { sensitiveDataCheck } from './sensitive-data.js';

const ctx = useTestContext('node_result_cache');
const WS = randomUUID();

/** A fresh key per test: nothing one test stores is found by another. */
const freshKey = (): NodeCacheKey =>
  nodeCacheKey(ctx.config.REDIS_KEY_PREFIX, {
    workspaceId: WS,
    permission: 'write',
    nodeType: 'function',
    config: { expression: 'x' },
    inputs: { n: randomUUID() },
  });

const request = (key: NodeCacheKey, runId = 'run-1') => ({
  key,
  ttlMs: 60_000,
  runId,
  nodeId: 'n',
  deadlineAt: null,
});

/** An execution that counts its calls and takes `ms`. */
function counted(result: NodeResult, ms = 0) {
  const counter = {
    calls: 0,
    run: async (): Promise<NodeResult> => {
      counter.calls++;
      if (ms) await sleep(ms);
      return result;
    },
  };
  return counter;
}

const outcomes = (served: readonly Served[]) =>
  served.map((s) => `${s.outcome}${s.waited ? `/${s.waited}` : ''}`).sort();

describe('the node result cache on the real Redis', () => {
  let redis: RedisClient;
  let registry: Registry;
  const options: NodeResultCacheOptions = {
    leaseMs: 600,
    waitMs: 5_000,
    maxEntryBytes: 1_000,
    sensitive: sensitiveDataCheck(['email', 'card_number']),
  };
  let cache: NodeResultCache;

  before(async () => {
    redis = createRedis(ctx.config.REDIS_URL, 'node-cache-test', { commandTimeout: 1_000 });
    ctx.defer(() => redis.quit());
    registry = new Registry();
    instrumentRedis(redis, registry);
    await redis.connect();
    cache = new NodeResultCache(new RedisCacheStore(redis), options);
  });

  it('serves a stored result, with its producer, until its TTL', async () => {
    const key = freshKey();
    const first = counted({ ok: true, output: { answer: 42 } }, 30);
    const miss = await cache.through({ ...request(key, 'run-a'), ttlMs: 5_000 }, first.run);
    assert.equal(miss.outcome, 'miss');
    assert.ok(miss.outcome === 'miss' && miss.write === 'stored');
    const pttl = await redis.pttl(key.entry);
    assert.ok(pttl > 4_000 && pttl <= 5_000, `PTTL ${pttl}`);
    assert.equal(await redis.exists(key.lease), 0, 'the holder released its lease');

    const second = counted({ ok: true, output: 'never' });
    const hit = await cache.through(request(key, 'run-b'), second.run);
    assert.equal(second.calls, 0);
    assert.equal(hit.outcome, 'hit');
    assert.ok(hit.outcome === 'hit');
    assert.deepEqual(hit.entry.output, { answer: 42 });
    assert.equal(hit.entry.runId, 'run-a', 'the run that produced it');
    // A 30 ms timer can end 29 ms of wall clock later (libuv measures from its cached loop time).
    assert.ok(hit.entry.durationMs >= 25, `it saves what producing it took (${hit.entry.durationMs} ms)`);
    assert.ok(Math.abs(hit.entry.producedAt - Date.now()) < 5_000);
  });

  it('with writeBehind, returns the result before storing it, and those waiting get it once it is stored', async () => {
    const key = freshKey();
    const first = counted({ ok: true, output: { answer: 7 } });
    const miss = await cache.through({ ...request(key, 'run-a'), writeBehind: true }, first.run);
    assert.ok(miss.outcome === 'miss' && miss.written, 'a write still under way');
    assert.equal(miss.write, 'stored', 'the write it tries');
    // The lease is held until the write is done: a task arriving now waits for the entry rather than running.
    const waiter = counted({ ok: true, output: 'never' });
    const joined = cache.through(request(key, 'run-b'), waiter.run);
    assert.equal(await miss.written, 'stored');
    const served = await joined;
    assert.equal(waiter.calls, 0);
    assert.ok(served.outcome === 'hit');
    assert.deepEqual(served.entry.output, { answer: 7 });
    assert.equal(await redis.exists(key.lease), 0, 'the lease was released');
    const failed = await cache.through(
      { ...request(freshKey()), writeBehind: true },
      counted({ ok: false, error: 'x' }).run,
    );
    assert.ok(failed.outcome === 'miss');
    assert.equal(await failed.written, 'failed');
  });

  it('never keeps a failure, a sensitive result or one too large, and says why', async () => {
    const cases: [NodeResult, string][] = [
      [{ ok: false, error: 'boom' }, 'failed'],
      [{ ok: true, output: { to: 'ada@example.org' } }, 'sensitive'],
      [{ ok: true, output: { card: '4111 1111 1111 1111' } }, 'sensitive'],
      [{ ok: true, output: 'x'.repeat(1_001) }, 'too_large'],
    ];
    for (const [result, why] of cases) {
      const key = freshKey();
      const served = await cache.through(request(key), counted(result).run);
      assert.equal(served.outcome === 'miss' && served.write, why);
      assert.equal(await redis.exists(key.entry), 0, why);
      const again = counted(result);
      assert.equal((await cache.through(request(key), again.run)).outcome, 'miss');
      assert.equal(again.calls, 1, `${why}: executed again`);
    }
    // A result just under the limit, and one whose card number fails Luhn, are kept.
    for (const output of ['x'.repeat(998), { card: '4111 1111 1111 1112' }]) {
      const key = freshKey();
      await cache.through(request(key), counted({ ok: true, output }).run);
      assert.equal(await redis.exists(key.entry), 1, JSON.stringify(output).slice(0, 40));
    }
  });

  it('runs concurrent identical misses once; the others get its result', async () => {
    const key = freshKey();
    const work = counted({ ok: true, output: 'shared' }, 300);
    const served = await Promise.all(
      Array.from({ length: 8 }, (_, i) => cache.through(request(key, `r${i}`), work.run)),
    );
    assert.equal(work.calls, 1);
    assert.deepEqual(outcomes(served), [
      'hit/joined',
      'hit/joined',
      'hit/joined',
      'hit/joined',
      'hit/joined',
      'hit/joined',
      'hit/joined',
      'miss',
    ]);
  });

  it('sends the waiters to run themselves at once when the holder ends without a result', async () => {
    const key = freshKey();
    const work = counted({ ok: false, error: 'boom' }, 400);
    const started = Date.now();
    const served = await Promise.all(Array.from({ length: 4 }, () => cache.through(request(key), work.run)));
    assert.equal(work.calls, 4, 'a failure is not shared');
    assert.deepEqual(outcomes(served), ['miss', 'miss/holder_failed', 'miss/holder_failed', 'miss/holder_failed']);
    // Together, not one after the other: about two executions' time, not four.
    assert.ok(Date.now() - started < 1_300, `${Date.now() - started} ms`);
  });

  it('takes over from a holder that died once its lease lapses, still running the node once', async () => {
    const key = freshKey();
    // A holder that took the lease and died: nobody renews or releases it.
    assert.equal(await redis.set(key.lease, 'dead-holder', 'PX', 800, 'NX'), 'OK');
    const work = counted({ ok: true, output: 'after the dead one' }, 100);
    const started = Date.now();
    const served = await Promise.all(Array.from({ length: 4 }, () => cache.through(request(key), work.run)));
    const elapsed = Date.now() - started;
    assert.equal(work.calls, 1);
    assert.deepEqual(outcomes(served), ['hit/joined', 'hit/joined', 'hit/joined', 'miss/took_over']);
    assert.ok(elapsed >= 700, `waited for the lease to lapse (${elapsed} ms)`);
    assert.ok(elapsed < 3_000, `not much longer (${elapsed} ms)`);
  });

  it('keeps a live holder’s lease past its first term by renewing it', async () => {
    const key = freshKey();
    const work = counted({ ok: true, output: 'slow' }, 1_500);
    const holder = cache.through(request(key), work.run);
    await sleep(100);
    const waiter = counted({ ok: true, output: 'never' });
    const joined = await cache.through(request(key), waiter.run);
    await holder;
    assert.equal(waiter.calls, 0, 'the waiter did not take over a lease still renewed (600 ms, run 1500 ms)');
    assert.equal(joined.outcome === 'hit' && joined.waited, 'joined');
  });

  it('stops waiting after CACHE_WAIT_MS and runs itself', async () => {
    const key = freshKey();
    await redis.set(key.lease, 'busy-holder', 'PX', 30_000);
    const impatient = new NodeResultCache(new RedisCacheStore(redis), { ...options, waitMs: 300 });
    const work = counted({ ok: true, output: 'mine' });
    const started = Date.now();
    const served = await impatient.through(request(key), work.run);
    assert.equal(work.calls, 1);
    assert.equal(served.outcome === 'miss' && served.waited, 'timed_out');
    assert.ok(Date.now() - started >= 290 && Date.now() - started < 1_500, `${Date.now() - started} ms`);
    assert.equal(await redis.exists(key.entry), 1, 'its result is kept for later tasks');
    assert.equal(await redis.get(key.lease), 'busy-holder', 'the other holder keeps its lease');
  });

  it('waits at most half the time left before the task’s deadline', async () => {
    const key = freshKey();
    await redis.set(key.lease, 'busy-holder', 'PX', 30_000);
    const work = counted({ ok: true, output: 'mine' });
    const started = Date.now();
    await cache.through({ ...request(key), deadlineAt: Date.now() + 600 }, work.run);
    assert.equal(work.calls, 1);
    assert.ok(Date.now() - started < 500, `${Date.now() - started} ms`);
  });

  it('counts its real commands in redis_ops_total', async () => {
    const value = async (operation: string) =>
      (await registry.getSingleMetric('redis_ops_total')?.get())?.values.find(
        (v) => v.labels.operation === operation && v.labels.status === 'ok',
      )?.value ?? 0;
    // A script runs as EVALSHA, or as EVAL the first time the server has not seen it.
    const counts = async () => ({
      get: await value('get'),
      set: await value('set'),
      scripts: (await value('evalsha')) + (await value('eval')),
    });
    const key = freshKey();
    const before = await counts();
    await cache.through(request(key), counted({ ok: true, output: 1 }).run);
    const afterMiss = await counts();
    assert.deepEqual(
      afterMiss,
      { get: before.get, set: before.set, scripts: before.scripts + 2 },
      'a miss: the lookup that takes the lease, then the store that releases it',
    );
    await cache.through(request(key), counted({ ok: true, output: 1 }).run);
    assert.deepEqual(await counts(), { ...afterMiss, scripts: afterMiss.scripts + 1 }, 'a hit: the lookup alone');
  });
});

describe('the node result cache when Redis does not answer', () => {
  const options: NodeResultCacheOptions = {
    leaseMs: 600,
    waitMs: 5_000,
    maxEntryBytes: 1_000,
    sensitive: () => null,
  };

  it('runs the node uncached, at once, when nothing listens on the port', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const redis = createRedis(`redis://127.0.0.1:${port}`, 'node-cache-closed', { commandTimeout: 200 });
    ctx.defer(() => redis.disconnect());
    await redis.connect().catch(() => undefined);
    const cache = new NodeResultCache(new RedisCacheStore(redis), options);
    for (let i = 0; i < 3; i++) {
      const work = counted({ ok: true, output: i });
      const started = Date.now();
      const served = await cache.through(request(freshKey()), work.run);
      assert.equal(work.calls, 1);
      assert.equal(served.outcome, 'error');
      assert.deepEqual(served.outcome === 'error' && served.result, { ok: true, output: i });
      assert.ok(Date.now() - started < 300, `${Date.now() - started} ms`);
    }
  });

  it('gives up on a Redis that stops answering, after the command timeout, and does not wait for it again', async () => {
    // A relay to the real Redis whose answers can be held back: a Redis that is up but does not answer in time.
    let stalled = false;
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      const upstream = connect(
        Number(new URL(ctx.config.REDIS_URL).port || 6379),
        new URL(ctx.config.REDIS_URL).hostname,
      );
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
      }
      client.on('data', (data) => upstream.write(data));
      upstream.on('data', (data) => {
        if (!stalled) client.write(data);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    ctx.defer(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    });
    const { port } = relay.address() as { port: number };
    const redis = createRedis(`redis://127.0.0.1:${port}`, 'node-cache-stalled', { commandTimeout: 150 });
    ctx.defer(() => redis.disconnect());
    await redis.connect();
    const cache = new NodeResultCache(new RedisCacheStore(redis), options);
    assert.equal((await cache.through(request(freshKey()), counted({ ok: true, output: 'up' }).run)).outcome, 'miss');

    stalled = true;
    const work = counted({ ok: true, output: 'still' });
    const started = Date.now();
    const served = await cache.through(request(freshKey()), work.run);
    const elapsed = Date.now() - started;
    assert.equal(work.calls, 1);
    assert.equal(served.outcome, 'error');
    assert.equal(served.outcome === 'error' && served.write, 'skipped', 'no write is tried after a failed lookup');
    assert.ok(elapsed >= 140 && elapsed < 1_000, `one command timeout, not more (${elapsed} ms)`);
  });
});
