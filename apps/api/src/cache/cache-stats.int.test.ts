import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import {
  startChatCompletionsStandIn,
  type ChatCompletionsStandIn,
} from '#apps/worker/src/agent/chat-completions-stand-in.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { ApiKeysRepository } from '#libs/auth';
import { createPool, type Pool } from '#libs/db';
import { createRedis, type RedisClient } from '#libs/redis';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import type { RunReply } from '#test/support/runs.js';
import { apiRole } from '../api.role.js';
import type { CacheStatsView } from './cache-stats.js';

const ctx = useTestContext('cache_stats');
const LLM_KEY = 'sk-stand-in';
const MODEL = 'gpt-test-2026-01-01';

/** An agent answer and a function of it: two cacheable node types in one run. */
const DEFINITION = {
  nodes: {
    ask: { type: 'agent', config: { model: 'gpt-test', prompt: 'Hi {{ input.who }}' } },
    shape: { type: 'function', config: { expression: '$uppercase(nodes.ask.text)' } },
  },
  edges: [{ from: 'ask', to: 'shape' }],
};

/**
 * What the node result cache earns a workspace, and purging it: runs end to end (api, relay, coordinator, projector,
 * worker in this process) on the real Redis and Postgres, in two workspaces, an agent node answered by a stand-in
 * model that bills tokens.
 */
describe('node result cache stats and purge, per workspace', () => {
  let api: TestApp;
  let pool: Pool;
  let redis: RedisClient;
  let llm: ChatCompletionsStandIn;
  let adminKey: string;
  let writeKey: string;
  let otherKey: string;
  let workspaceId: string;
  let otherWorkspaceId: string;

  const workflow = async (key: string): Promise<string> => {
    const { status, body } = await api.request<{ id: string }>('POST', '/v1/workflows', {
      key,
      body: { name: 'cached', definition: DEFINITION },
    });
    assert.equal(status, 201, JSON.stringify(body));
    return body.id;
  };
  const run = async (key: string, workflowId: string, who: string): Promise<RunReply> => {
    const started = await api.request<{ runId: string }>('POST', `/v1/workflows/${workflowId}/runs`, {
      key,
      body: { input: { who } },
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const done = await eventually(
      async () => {
        const { body } = await api.request<RunReply>('GET', `/v1/runs/${started.body.runId}`, { key });
        return ['completed', 'failed', 'cancelled', 'timed_out'].includes(body.status) ? body : undefined;
      },
      `run ${started.body.runId}`,
      30_000,
    );
    assert.equal(done.status, 'completed', JSON.stringify(done));
    return done;
  };
  const stats = async (key: string, query = '') =>
    api.request<CacheStatsView>('GET', `/v1/cache/stats${query}`, { key });
  /** The workspace's entry keys in Redis, by node type (from the key). */
  const entries = async (workspace: string): Promise<string[]> => {
    const keys = await redis.keys(`${ctx.config.REDIS_KEY_PREFIX}cache:{ws:${workspace}}:node:*`);
    return keys.map((k) => k.split(':node:')[1]!.split(':')[0]!).sort();
  };

  before(async () => {
    await createTopics(ctx);
    llm = await startChatCompletionsStandIn(LLM_KEY);
    ctx.defer(() => llm.close());
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], {
      ...ctx.config,
      WORKER_TYPES: ['function', 'agent'],
      LLM_BASE_URL: llm.baseUrl,
      LLM_API_KEY: LLM_KEY,
      CACHE_TOKEN_PRICES: new Map([[MODEL, { promptPerMillion: 1_000_000, completionPerMillion: 2_000_000 }]]),
    });
    pool = createPool(ctx.databaseUrl, { name: 'cache-stats' });
    ctx.defer(() => pool.end());
    redis = createRedis(ctx.config.REDIS_URL, 'cache-stats-test');
    await redis.connect();
    ctx.defer(() => redis.quit());
    const keys = new ApiKeysRepository(pool);
    workspaceId = (await pool.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!.id;
    adminKey = (await keys.create(workspaceId, 'admin')).key;
    writeKey = (await keys.create(workspaceId, 'write')).key;
    const other = await pool.query<{ id: string }>("INSERT INTO workspaces (name) VALUES ('other') RETURNING id");
    otherWorkspaceId = other.rows[0]!.id;
    otherKey = (await keys.create(otherWorkspaceId, 'admin')).key;
  });

  it('counts each workspace’s lookups, hits, time and tokens saved, and never another’s', async () => {
    const mine = await workflow(adminKey);
    await run(adminKey, mine, 'there');
    const second = await run(adminKey, mine, 'there');
    assert.ok(second.nodes.ask?.cached && second.nodes.shape?.cached, 'the second run came from the cache');
    assert.equal(llm.completions.length, 1, 'the model was asked once');
    // The other workspace runs the same thing: its own misses, none of this workspace's entries.
    await run(otherKey, await workflow(otherKey), 'there');
    assert.equal(llm.completions.length, 2);

    const { status, body } = await stats(writeKey);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.workspaceId, workspaceId);
    assert.deepEqual(
      body.byNodeType.map((t) => [t.nodeType, t.lookups, t.hits, t.misses, t.hitRate]),
      [
        ['agent', 2, 1, 1, 0.5],
        ['function', 2, 1, 1, 0.5],
      ],
    );
    assert.deepEqual([body.lookups, body.hits, body.misses, body.hitRate], [4, 2, 2, 0.5]);
    const { rows } = await pool.query<{ saved: string }>(
      'SELECT sum(saved_ms) AS saved FROM cache_hits WHERE workspace_id = $1',
      [workspaceId],
    );
    assert.equal(body.savedMs, Number(rows[0]!.saved));
    // "Hi there" is 2 prompt tokens, "echo: Hi there" 3 completion tokens: 2 × 1 + 3 × 2 at the test's prices.
    assert.deepEqual(body.tokensSaved, { prompt: 2, completion: 3 });
    assert.deepEqual(body.byModel, [{ model: MODEL, hits: 1, promptTokens: 2, completionTokens: 3, costSaved: 8 }]);
    assert.equal(body.estimatedCostSaved, 8);
    assert.deepEqual(body.unpricedModels, []);

    const theirs = await stats(otherKey);
    assert.equal(theirs.body.workspaceId, otherWorkspaceId);
    assert.deepEqual([theirs.body.lookups, theirs.body.hits, theirs.body.misses], [2, 0, 2]);
    assert.equal(theirs.body.estimatedCostSaved, 0);

    // A key reads its own workspace only; a window that starts after the runs counts nothing.
    assert.equal((await stats(writeKey, `?workspaceId=${otherWorkspaceId}`)).status, 403);
    assert.equal((await stats(writeKey, `?workspaceId=${workspaceId}`)).status, 200);
    const later = new Date(Date.now() + 3_600_000).toISOString().slice(0, 13);
    assert.equal((await stats(writeKey, `?since=${later}:00:00Z`)).status, 400);
    for (const bad of ['yesterday', '2020-01-01T00:00:00Z']) {
      assert.equal((await stats(writeKey, `?since=${bad}`)).status, 400, bad);
    }
  });

  it('purges one node type of one workspace, then all of it, for admin keys only', async () => {
    assert.deepEqual(await entries(workspaceId), ['agent', 'function']);
    assert.deepEqual(await entries(otherWorkspaceId), ['agent', 'function']);
    const purge = (key: string, query: string) =>
      api.request<{ deleted: number; nodeType: string | null }>('DELETE', `/v1/cache/entries${query}`, { key });

    assert.equal((await purge(writeKey, '?nodeType=function')).status, 403, 'a write key may not purge');
    assert.equal((await purge(adminKey, `?workspaceId=${otherWorkspaceId}`)).status, 403, 'nor another workspace');
    assert.equal((await purge(adminKey, '?nodeType=hitl')).status, 400);
    assert.deepEqual(await entries(workspaceId), ['agent', 'function'], 'refused purges deleted nothing');

    const typed = await purge(adminKey, `?workspaceId=${workspaceId}&nodeType=function`);
    assert.equal(typed.status, 200, JSON.stringify(typed.body));
    assert.deepEqual([typed.body.deleted, typed.body.nodeType], [1, 'function']);
    assert.deepEqual(await entries(workspaceId), ['agent']);
    assert.deepEqual(await entries(otherWorkspaceId), ['agent', 'function'], 'the other workspace keeps its entries');

    // The purged function node runs again; the agent answer still comes from the cache.
    const again = await run(adminKey, await workflow(adminKey), 'there');
    assert.ok(again.nodes.ask?.cached, 'the agent entry survived');
    assert.equal(again.nodes.shape?.cached, undefined, 'the function entry is gone');
    assert.equal(llm.completions.length, 2);

    const all = await purge(adminKey, '');
    assert.deepEqual([all.status, all.body.deleted], [200, 2]);
    assert.deepEqual(await entries(workspaceId), []);
    assert.deepEqual(await entries(otherWorkspaceId), ['agent', 'function']);
    // The counters are not entries: the stats still know the lookups.
    assert.equal((await stats(adminKey)).body.lookups, 6);
  });
});
