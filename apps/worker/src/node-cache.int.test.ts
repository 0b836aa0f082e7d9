import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { before, describe, it } from 'node:test';
import type { Registry } from 'prom-client';
import { apiRole } from '#apps/api/src/api.role.js';
import type { CacheHitView as CacheHit } from '#apps/api/src/cache/cache-hits.sql.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { ApiKeysRepository } from '#libs/auth';
import { nodeCacheKey } from '#libs/cache';
import { createPool, type Pool } from '#libs/db';
import { METRICS_REGISTRY } from '#libs/platform';
import { createRedis } from '#libs/redis';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { startTcpCut, type TcpCut } from '#test/support/private/tcp-cut.js';
import { createWorkflow, startRun, waitForRun, type RunReply } from '#test/support/runs.js';
import { reply, startTestHttpServer, type TestHttpServer } from './http/test-http-server.js';
import { workerRole } from './worker.role.js';

const ctx = useTestContext('node_result_cache_runs');

const cachedOf = (run: RunReply, nodeId: string) => run.nodes[nodeId]?.cached;

/** Function calls keep these nodes in the cache: cheaper expressions (field reads, arithmetic) bypass it. */
const fn = (expression: string, cache?: object) => ({ type: 'function', config: { expression }, ...cache });

/**
 * Runs end to end through the node result cache: api, relay, coordinator, projector and workers in this process, the
 * cache on the real Redis behind a TCP relay (which the last test cuts), an HTTP service that counts what it is asked.
 */
describe('runs through the node result cache', () => {
  let api: TestApp;
  let pool: Pool;
  let registry: Registry;
  let redisRelay: TcpCut;
  let service: TestHttpServer;
  let writeKey: string;
  let foreignKey: string;
  let workspaceId: string;
  /** Requests to /slow wait for this. */
  let releaseSlow: () => void = () => undefined;
  let slowReleased = Promise.resolve();
  let flips = 0;

  const asked = (path: string, method = 'GET') =>
    service.requests.filter((r) => r.path === path && r.method === method).length;
  /** Starts a run with the key (the admin key of workspace "default" unless given) and waits for it to end. */
  const run = async (workflowId: string, input: unknown = {}, key?: string): Promise<RunReply> => {
    const runId = await startRun(api, workflowId, input, key ? { authorization: `Bearer ${key}` } : undefined);
    if (!key) return waitForRun(api, runId, undefined, 30_000);
    return eventually(
      async () => {
        const { body } = await api.request<RunReply>('GET', `/v1/runs/${runId}`, { key });
        return ['completed', 'failed', 'cancelled', 'timed_out'].includes(body.status) ? body : undefined;
      },
      `run ${runId}`,
      30_000,
    );
  };
  const metric = async (name: string, labels: Record<string, string>) =>
    (await registry.getSingleMetric(name)?.get())?.values.find((v) =>
      Object.entries(labels).every(([k, value]) => v.labels[k] === value),
    )?.value ?? 0;

  before(async () => {
    await createTopics(ctx);
    service = await startTestHttpServer((request, response: ServerResponse) => {
      if (request.path.startsWith('/slow')) {
        void slowReleased.then(() => reply(response, 200, 'application/json', '{"slow":true}'));
      } else if (request.path === '/flip') {
        // Fails the first time it is asked, answers after.
        flips++;
        if (flips === 1) reply(response, 500, 'text/plain', 'not yet');
        else reply(response, 200, 'application/json', '{"flipped":true}');
      } else {
        reply(response, 200, 'application/json', JSON.stringify({ path: request.path, method: request.method }));
      }
    });
    ctx.defer(() => service.close());
    const redisUrl = new URL(ctx.config.REDIS_URL);
    redisRelay = await startTcpCut(Number(redisUrl.port || 6379));
    ctx.defer(() => redisRelay.close());
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], {
      ...ctx.config,
      SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
      CACHE_REDIS_URL: `redis://127.0.0.1:${redisRelay.port}`,
      // The failures some tests cause on purpose are logged as warnings.
      LOG_LEVEL: 'error',
    });
    registry = api.app.get<Registry>(METRICS_REGISTRY);
    pool = createPool(ctx.databaseUrl, { name: 'node-cache-runs' });
    ctx.defer(() => pool.end());
    writeKey = (await api.request<{ key: string }>('POST', '/v1/api-keys', { body: { permission: 'write' } })).body.key;
    workspaceId = (await pool.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!.id;
    const other = await pool.query<{ id: string }>("INSERT INTO workspaces (name) VALUES ('other') RETURNING id");
    foreignKey = (await new ApiKeysRepository(pool).create(other.rows[0]!.id, 'admin')).key;
  });

  it('serves a second identical run (of another workflow, too) from the cache, saying so and naming the first', async () => {
    const definition = {
      nodes: { a: fn('$number(input.x) * 2'), b: fn('{"sum": $sum([nodes.a, 1])}') },
      edges: [{ from: 'a', to: 'b' }],
    };
    const first = await run(await createWorkflow(api, definition), { x: 21 });
    assert.equal(first.status, 'completed', JSON.stringify(first));
    assert.equal(cachedOf(first, 'a'), undefined);

    const second = await run(await createWorkflow(api, definition, 'twin'), { x: 21 });
    assert.equal(second.status, 'completed', JSON.stringify(second));
    assert.deepEqual(second.output, first.output);
    assert.deepEqual(second.output, { b: { sum: 43 } });
    for (const nodeId of ['a', 'b']) {
      const cached = cachedOf(second, nodeId);
      assert.equal(cached?.fromRunId, first.id, `${nodeId} came from the first run`);
      assert.equal(cached.fromNodeId, nodeId);
      assert.ok(Math.abs(Date.parse(cached.producedAt) - Date.now()) < 60_000, cached.producedAt);
    }

    // The run's events say so.
    const { rows: events } = await pool.query<{ node_id: string; detail: Record<string, unknown> }>(
      "SELECT node_id, detail FROM run_events WHERE run_id = $1 AND kind = 'node.completed' ORDER BY seq",
      [second.id],
    );
    assert.deepEqual(
      events.map((e) => [e.node_id, e.detail.cached, e.detail.fromRunId]),
      [
        ['a', true, first.id],
        ['b', true, first.id],
      ],
    );
    const { rows: plain } = await pool.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM run_events WHERE run_id = $1 AND kind = 'node.completed'",
      [first.id],
    );
    assert.ok(plain.every((e) => e.detail.cached === undefined));

    // The audit trail, per workspace: the API, with a read key too, and with a filter by producing run.
    const readKey = (await api.request<{ key: string }>('POST', '/v1/api-keys', { body: { permission: 'read' } })).body
      .key;
    const hits = await eventually(async () => {
      const page = await api.request<{ hits: CacheHit[] }>('GET', `/v1/cache/hits?runId=${second.id}`, {
        key: readKey,
      });
      return page.body.hits.length === 2 ? page.body.hits : undefined;
    }, 'the cache hits of the second run');
    assert.deepEqual(hits.map((h) => [h.nodeId, h.nodeType, h.fromRunId, h.fromNodeId, h.attempt]).sort(), [
      ['a', 'function', first.id, 'a', 1],
      ['b', 'function', first.id, 'b', 1],
    ]);
    const byProducer = await api.request<{ hits: CacheHit[] }>('GET', `/v1/cache/hits?fromRunId=${first.id}`);
    assert.equal(byProducer.body.hits.length, 2);
    // Paged one at a time: every hit once, newest first, then an empty last page.
    const paged: CacheHit[] = [];
    for (let next: string | null = `/v1/cache/hits?fromRunId=${first.id}&limit=1`; next && paged.length < 5;) {
      const page: { hits: CacheHit[]; next: string | null } = (await api.request<typeof page>('GET', next)).body;
      paged.push(...page.hits);
      next = page.next;
    }
    assert.deepEqual(paged, byProducer.body.hits);
    assert.ok(Date.parse(paged[0]!.hitAt) >= Date.parse(paged[1]!.hitAt));
    assert.deepEqual((await api.request<{ hits: CacheHit[] }>('GET', '/v1/cache/hits', { key: foreignKey })).body, {
      hits: [],
      next: null,
    });
    assert.equal((await api.request('GET', '/v1/cache/hits?runId=nope')).status, 400);
  });

  it('computes a function node that only reads and combines fields instead of looking it up, unless it opts in', async () => {
    const bypassed = () => metric('cache_lookups_total', { node_type: 'function', outcome: 'bypass' });
    const before = await bypassed();
    const cheap = await createWorkflow(api, { nodes: { a: fn('input.x * 2 + 1') }, edges: [] });
    await run(cheap, { x: 5 });
    const again = await run(cheap, { x: 5 });
    assert.deepEqual(again.output, { a: 11 });
    assert.equal(cachedOf(again, 'a'), undefined);
    assert.equal(await bypassed(), before + 2);

    const optedIn = await createWorkflow(api, {
      nodes: { a: fn('input.x * 2 + 1', { cache: { enabled: true } }) },
      edges: [],
    });
    const first = await run(optedIn, { x: 5 });
    assert.equal(cachedOf(await run(optedIn, { x: 5 }), 'a')?.fromRunId, first.id);
    assert.equal(await bypassed(), before + 2);
  });

  it('never serves an entry to another workspace or to a run started with another permission', async () => {
    const definition = {
      nodes: { get: { type: 'http_request', config: { method: 'GET', url: `${service.origin}/iso` } } },
      edges: [],
    };
    const workflowId = await createWorkflow(api, definition);
    const byAdmin = await run(workflowId, { any: 1 });
    assert.equal(byAdmin.status, 'completed');
    assert.equal(asked('/iso'), 1);
    // Another input, same request: an http_request node's result depends on its config alone.
    const again = await run(workflowId, { any: 2 });
    assert.equal(cachedOf(again, 'get')?.fromRunId, byAdmin.id);
    assert.equal(asked('/iso'), 1);

    // A write key of the same workspace: its own entry, not the admin's.
    const byWrite = await run(workflowId, { any: 1 }, writeKey);
    assert.equal(byWrite.status, 'completed');
    assert.equal(cachedOf(byWrite, 'get'), undefined);
    assert.equal(asked('/iso'), 2, 'the write run called the service itself');
    const byWriteAgain = await run(workflowId, { any: 1 }, writeKey);
    assert.equal(cachedOf(byWriteAgain, 'get')?.fromRunId, byWrite.id);
    assert.equal(asked('/iso'), 2);

    // Another workspace, the same definition and input.
    const foreignWorkflow = await api.request<{ id: string }>('POST', '/v1/workflows', {
      key: foreignKey,
      body: { name: 'theirs', definition },
    });
    const foreignRun = await run(foreignWorkflow.body.id, { any: 1 }, foreignKey);
    assert.equal(foreignRun.status, 'completed');
    assert.equal(cachedOf(foreignRun, 'get'), undefined);
    assert.equal(asked('/iso'), 3, 'the other workspace called the service itself');
    assert.equal((await api.request('GET', `/v1/runs/${foreignRun.id}`)).status, 404);
  });

  it('never caches a result that holds personal data or a secret', async () => {
    const before = await metric('cache_writes_total', { node_type: 'function', outcome: 'sensitive' });
    const workflowId = await createWorkflow(api, {
      nodes: { mail: fn('{"to": $join([input.user, "@example.org"])}'), card: fn('$string("4111 1111 1111 1111")') },
      edges: [],
    });
    const first = await run(workflowId, { user: 'ada' });
    const second = await run(workflowId, { user: 'ada' });
    assert.equal(second.status, 'completed');
    assert.deepEqual(second.output, { mail: { to: 'ada@example.org' }, card: '4111 1111 1111 1111' });
    assert.equal(cachedOf(second, 'mail'), undefined);
    assert.equal(cachedOf(second, 'card'), undefined);
    assert.equal(await metric('cache_writes_total', { node_type: 'function', outcome: 'sensitive' }), before + 4);
    assert.equal(first.status, 'completed');

    // A number that fails the Luhn check is no card number: cached.
    const notACard = await createWorkflow(api, { nodes: { n: fn('$string("4111 1111 1111 1112")') }, edges: [] });
    await run(notACard);
    assert.ok(cachedOf(await run(notACard), 'n'));
  });

  it('never caches a failure: the next run executes the node again', async () => {
    const workflowId = await createWorkflow(api, {
      nodes: { flip: { type: 'http_request', config: { method: 'GET', url: `${service.origin}/flip` } } },
      edges: [],
    });
    const failed = await run(workflowId);
    assert.equal(failed.status, 'failed');
    const succeeded = await run(workflowId);
    assert.equal(succeeded.status, 'completed', JSON.stringify(succeeded));
    assert.equal(cachedOf(succeeded, 'flip'), undefined);
    assert.equal(asked('/flip'), 2);
    // The success is cached.
    const third = await run(workflowId);
    assert.equal(cachedOf(third, 'flip')?.fromRunId, succeeded.id);
    assert.equal(asked('/flip'), 2);
  });

  it('does not cache a POST unless the node opts in', async () => {
    const post = (path: string, cache?: object) => ({
      nodes: {
        send: { type: 'http_request', config: { method: 'POST', url: `${service.origin}${path}`, body: {} }, ...cache },
      },
      edges: [],
    });
    const plain = await createWorkflow(api, post('/post-plain'));
    await run(plain);
    const second = await run(plain);
    assert.equal(second.status, 'completed');
    assert.equal(cachedOf(second, 'send'), undefined);
    assert.equal(asked('/post-plain', 'POST'), 2);

    const optedIn = await createWorkflow(api, post('/post-opted', { cache: { enabled: true, ttlMs: 60_000 } }));
    const first = await run(optedIn);
    const cached = await run(optedIn);
    assert.equal(cachedOf(cached, 'send')?.fromRunId, first.id);
    assert.equal(asked('/post-opted', 'POST'), 1);

    // And a node may turn the cache off for a GET.
    const off = await createWorkflow(api, {
      nodes: {
        get: {
          type: 'http_request',
          config: { method: 'GET', url: `${service.origin}/get-off` },
          cache: { enabled: false },
        },
      },
      edges: [],
    });
    await run(off);
    await run(off);
    assert.equal(asked('/get-off'), 2);
  });

  it('runs concurrent identical misses once; the others wait for its result', async () => {
    slowReleased = new Promise((resolve) => (releaseSlow = resolve));
    // Five identical nodes of one run: dispatched in one transaction, so one worker batch runs them side by side.
    const slow = { type: 'http_request', config: { method: 'GET', url: `${service.origin}/slow` } };
    const workflowId = await createWorkflow(api, {
      nodes: Object.fromEntries(['s1', 's2', 's3', 's4', 's5'].map((id) => [id, slow])),
      edges: [],
    });
    const waits = { node_type: 'http_request', outcome: 'joined' };
    const saving = { cache: 'node_results', node_type: 'http_request' };
    const [joinedBefore, savedBefore] = [
      await metric('cache_waits_total', waits),
      await metric('cache_time_saved_seconds_total', saving),
    ];
    const runId = await startRun(api, workflowId);
    // One of them holds the request open; the others find its lease.
    await eventually(() => Promise.resolve(asked('/slow') === 1 ? true : undefined), 'the first request');
    await new Promise((resolve) => setTimeout(resolve, 300));
    releaseSlow();
    const done = await waitForRun(api, runId);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(asked('/slow'), 1, 'one request for five nodes');
    const producers = Object.keys(done.nodes).filter((id) => !cachedOf(done, id));
    assert.equal(producers.length, 1, JSON.stringify(done.nodes));
    for (const id of Object.keys(done.nodes)) {
      if (id !== producers[0])
        assert.deepEqual([cachedOf(done, id)?.fromRunId, cachedOf(done, id)?.fromNodeId], [runId, producers[0]]);
    }
    assert.equal(await metric('cache_waits_total', waits), joinedBefore + 4, 'four waited for the first');
    const saved = await metric('cache_time_saved_seconds_total', saving);
    assert.ok(saved - savedBefore >= 4 * 0.3, `each hit saved the producing request's time (${saved - savedBefore} s)`);
  });

  it('runs the node itself once the lease of a holder that died lapses', async () => {
    const url = `${service.origin}/orphaned`;
    const workflowId = await createWorkflow(api, {
      nodes: { get: { type: 'http_request', config: { method: 'GET', url } } },
      edges: [],
    });
    // A holder that took the lease and died without a result: its lease lapses after 1.5 s.
    const key = nodeCacheKey(ctx.config.REDIS_KEY_PREFIX, {
      workspaceId,
      permission: 'admin',
      nodeType: 'http_request',
      config: { method: 'GET', url },
      inputs: null,
    });
    const redis = createRedis(ctx.config.REDIS_URL, 'dead-holder');
    ctx.defer(() => redis.quit());
    await redis.connect();
    assert.equal(await redis.set(key.lease, 'dead-holder', 'PX', 1_500, 'NX'), 'OK');
    const tookOver = await metric('cache_waits_total', { node_type: 'http_request', outcome: 'took_over' });
    const started = Date.now();
    const done = await run(workflowId);
    assert.equal(done.status, 'completed');
    assert.ok(Date.now() - started >= 1_000, `it waited for the lease (${Date.now() - started} ms)`);
    assert.equal(asked('/orphaned'), 1);
    assert.equal(await metric('cache_waits_total', { node_type: 'http_request', outcome: 'took_over' }), tookOver + 1);
    assert.ok(await redis.exists(key.entry), 'and kept its result');
  });

  it('runs nodes uncached when Redis is unreachable, counting the lookups as errors', async () => {
    const errors = await metric('cache_lookups_total', { node_type: 'function', outcome: 'error' });
    await redisRelay.cut();
    const workflowId = await createWorkflow(api, {
      nodes: { a: fn('$sum([input.x, 1])'), b: fn('$sum([nodes.a, nodes.a])') },
      edges: [{ from: 'a', to: 'b' }],
    });
    const started = Date.now();
    const runs = [await run(workflowId, { x: 1 }), await run(workflowId, { x: 1 })];
    assert.ok(Date.now() - started < 15_000, `${Date.now() - started} ms`);
    for (const done of runs) {
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.deepEqual(done.output, { b: 4 });
      assert.equal(cachedOf(done, 'a'), undefined);
    }
    assert.equal(await metric('cache_lookups_total', { node_type: 'function', outcome: 'error' }), errors + 4);
  });
});
