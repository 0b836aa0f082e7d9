import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import type { CacheHitView } from '#apps/api/src/cache/cache-hits.sql.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { createPool, type Pool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { workerRole } from '../worker.role.js';
import { startChatCompletionsStandIn, type ChatCompletionsStandIn } from './chat-completions-stand-in.js';

const ctx = useTestContext('semantic_cache_runs');
const API_KEY = 'sk-semantic-runs';

describe('runs with agent nodes through the semantic cache (every role; an LLM and embeddings stand-in)', () => {
  let api: TestApp;
  let llm: ChatCompletionsStandIn;
  let pool: Pool;

  before(async () => {
    await createTopics(ctx);
    llm = await startChatCompletionsStandIn(API_KEY);
    ctx.defer(() => llm.close());
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], {
      ...ctx.config,
      WORKER_TYPES: ['agent'],
      LLM_BASE_URL: llm.baseUrl,
      LLM_API_KEY: API_KEY,
      EMBEDDINGS_BASE_URL: llm.baseUrl,
      EMBEDDINGS_API_KEY: API_KEY,
    });
    pool = createPool(ctx.databaseUrl, { name: 'semantic-runs' });
    ctx.defer(() => pool.end());
    const { id } = (await pool.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!;
    const vector = createPool(ctx.config.VECTOR_DATABASE_URL, { name: 'semantic-runs-vector', max: 1 });
    ctx.defer(() => vector.end());
    ctx.defer(() => vector.query('DELETE FROM semantic_cache_entries WHERE workspace_id = $1', [id]));
  });

  it('answers a similar prompt from an earlier run, and says so in the run, its events and the audit trail', async () => {
    const workflowId = await createWorkflow(api, {
      nodes: {
        write: { type: 'agent', config: { model: 'gpt-test', system: 'Be brief.', prompt: '{{ input.ask }}' } },
      },
      edges: [],
    });
    const first = await waitForRun(
      api,
      await startRun(api, workflowId, { ask: 'Summarise the quarterly sales report for the northern region team' }),
    );
    assert.equal(first.status, 'completed', JSON.stringify(first));
    const asked = llm.completions.length;

    const runId = await startRun(api, workflowId, {
      ask: 'Please summarise the quarterly sales report for the northern region team',
    });
    const second = await waitForRun(api, runId);
    assert.equal(second.status, 'completed', JSON.stringify(second));
    assert.equal(llm.completions.length, asked, 'the model was not asked again');
    assert.deepEqual(second.output, first.output);
    const cached = second.nodes.write?.cached as Record<string, unknown> | undefined;
    assert.equal(cached?.fromRunId, first.id);
    assert.equal(cached.match, 'semantic');
    assert.ok((cached.similarity as number) >= 0.92 && (cached.similarity as number) < 1, String(cached.similarity));

    // The run's events say so, as for an exact hit, and how it matched.
    const { rows: events } = await pool.query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM run_events WHERE run_id = $1 AND kind = 'node.completed'",
      [runId],
    );
    assert.deepEqual(
      events.map(({ detail }) => [detail.cached, detail.fromRunId, detail.match, typeof detail.similarity]),
      [[true, first.id, 'semantic', 'number']],
    );

    const hits = await eventually(async () => {
      const { body } = await api.request<{ hits: CacheHitView[] }>('GET', `/v1/cache/hits?runId=${runId}`);
      return body.hits.length ? body.hits : undefined;
    }, 'the audit row');
    assert.equal(hits[0]?.match, 'semantic');
    assert.equal(hits[0]?.fromRunId, first.id);
    assert.ok(hits[0].similarity! >= 0.92);
    const stats = await api.request<{ byMatch: { match: string; hits: number; savedMs: number }[] }>(
      'GET',
      '/v1/cache/stats',
    );
    assert.deepEqual(stats.body.byMatch, [{ match: 'semantic', hits: 1, savedMs: stats.body.byMatch[0]?.savedMs }]);

    // A purge of the workspace's agent results empties the semantic cache too: the next similar prompt asks the model.
    const purged = await api.request<{ deleted: number; exact: number; semantic: number | null }>(
      'DELETE',
      '/v1/cache/entries?nodeType=agent',
    );
    assert.equal(purged.status, 200, JSON.stringify(purged.body));
    assert.equal(purged.body.semantic, 1, JSON.stringify(purged.body));
    assert.equal(purged.body.deleted, purged.body.exact + 1);
    const third = await waitForRun(
      api,
      await startRun(api, workflowId, { ask: 'Summarise the quarterly sales report for the northern region team!' }),
    );
    assert.equal(third.status, 'completed', JSON.stringify(third));
    assert.equal(llm.completions.length, asked + 1, 'the model was asked once the cache was purged');
    assert.equal(third.nodes.write?.cached, undefined);
  });
});
