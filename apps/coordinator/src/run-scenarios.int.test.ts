import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool } from '#libs/db';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { startTestHttpServer, type TestHttpServer } from '#apps/worker/src/http/test-http-server.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, readRun, startRun, waitForRun } from '#test/support/runs.js';
import { coordinatorRole } from './coordinator.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';

const ctx = useTestContext('run-scenarios');
const fn = (expression: string) => ({ type: 'function', config: { expression } });

describe('runs end to end (api, relay, coordinator, workers in one process)', () => {
  let api: TestApp;
  let server: TestHttpServer;
  const calls = new Map<string, number>();

  before(async () => {
    await createTopics(ctx);
    // Fails the first two calls of each node's path, then answers; /hang never answers.
    server = await startTestHttpServer((request, response) => {
      if (request.path.startsWith('/hang')) return;
      const seen = (calls.get(request.path) ?? 0) + 1;
      calls.set(request.path, seen);
      if (request.path.startsWith('/flaky') && seen < 3) {
        response.writeHead(503).end('try again');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ seen }));
    });
    ctx.defer(() => server.close());
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], {
      ...ctx.config,
      SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
    });
  });

  it('runs a 3-node chain, each node seeing the outputs before it', async () => {
    const id = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1'), c: fn('nodes.b * 10') },
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
    });
    const run = await waitForRun(api, await startRun(api, id, { x: 4 }));
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.deepEqual(run.output, { c: 50 });
    assert.deepEqual(
      Object.fromEntries(Object.entries(run.nodes).map(([n, s]) => [n, [s.status, s.attempts, s.output]])),
      { a: ['succeeded', 1, 4], b: ['succeeded', 1, 5], c: ['succeeded', 1, 50] },
    );
  });

  it('fans out and joins a diamond', async () => {
    const id = await createWorkflow(api, {
      nodes: {
        a: fn('input.x'),
        left: fn('nodes.a * 2'),
        right: fn('nodes.a * 3'),
        join: fn('nodes.left + nodes.right'),
      },
      edges: [
        { from: 'a', to: 'left' },
        { from: 'a', to: 'right' },
        { from: 'left', to: 'join' },
        { from: 'right', to: 'join' },
      ],
    });
    const run = await waitForRun(api, await startRun(api, id, { x: 1 }));
    assert.equal(run.status, 'completed');
    assert.deepEqual(run.output, { join: 5 });
  });

  it('skips the branch whose condition is false, and what follows it', async () => {
    const id = await createWorkflow(api, {
      nodes: { check: fn('input.amount > 100'), big: fn('"big"'), small: fn('"small"'), audit: fn('"audited"') },
      edges: [
        { from: 'check', to: 'big', when: 'nodes.check' },
        { from: 'check', to: 'small', when: '$not(nodes.check)' },
        { from: 'big', to: 'audit' },
      ],
    });
    const run = await waitForRun(api, await startRun(api, id, { amount: 5 }));
    assert.equal(run.status, 'completed');
    assert.equal(run.nodes.big?.status, 'skipped');
    assert.equal(run.nodes.audit?.status, 'skipped');
    assert.deepEqual(run.output, { small: 'small' });
  });

  it('retries an http node with backoff until its third attempt succeeds, one idempotency key per attempt', async () => {
    const id = await createWorkflow(api, {
      nodes: {
        call: {
          type: 'http_request',
          config: { method: 'POST', url: `${server.origin}/flaky/1`, body: { hello: 'world' } },
          retry: { maxAttempts: 3, backoffMs: 50 },
        },
      },
      edges: [],
    });
    const runId = await startRun(api, id);
    const run = await waitForRun(api, runId);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.nodes.call?.attempts, 3);
    assert.deepEqual((run.nodes.call?.output as { body: unknown }).body, { seen: 3 });
    const keys = server.requests.filter((r) => r.path === '/flaky/1').map((r) => r.headers['idempotency-key']);
    assert.deepEqual(keys, [`${runId}:call:1`, `${runId}:call:2`, `${runId}:call:3`]);
  });

  it('times a node out and fails the run', async () => {
    const id = await createWorkflow(api, {
      nodes: {
        slow: { type: 'http_request', config: { method: 'GET', url: `${server.origin}/hang` }, timeoutMs: 300 },
      },
      edges: [],
    });
    const run = await waitForRun(api, await startRun(api, id));
    assert.equal(run.status, 'failed');
    assert.equal(run.nodes.slow?.status, 'timed_out');
    assert.match(run.error ?? '', /slow timed out/);
  });

  it('waits for an approval and completes with the decision as the node output', async () => {
    const id = await createWorkflow(api, {
      nodes: { review: { type: 'hitl', config: { prompt: 'Ship it?' } }, after: fn('nodes.review.approved') },
      edges: [{ from: 'review', to: 'after' }],
    });
    const runId = await startRun(api, id);
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    const early = await api.request('POST', `/v1/runs/${runId}/nodes/after/approval`, { body: { approved: true } });
    assert.equal(early.status, 409, 'a node that is not waiting cannot be approved');
    const decided = await api.request('POST', `/v1/runs/${runId}/nodes/review/approval`, {
      body: { approved: true, comment: 'lgtm' },
    });
    assert.equal(decided.status, 202);
    const again = await api.request('POST', `/v1/runs/${runId}/nodes/review/approval`, { body: { approved: false } });
    assert.equal(again.status, 409, 'an approval is decided once');
    const run = await waitForRun(api, runId);
    assert.equal(run.status, 'completed');
    assert.deepEqual(run.output, { after: true });
    assert.equal((run.nodes.review?.output as { comment: string }).comment, 'lgtm');
  });

  it('fails the run on a rejection', async () => {
    const id = await createWorkflow(api, {
      nodes: { review: { type: 'hitl', config: { prompt: 'Ship it?' } } },
      edges: [],
    });
    const runId = await startRun(api, id);
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    const bad = await api.request('POST', `/v1/runs/${runId}/nodes/review/approval`, { body: { approved: 'yes' } });
    assert.equal(bad.status, 422);
    const decided = await api.request('POST', `/v1/runs/${runId}/nodes/review/approval`, {
      body: { approved: false, comment: 'not now' },
    });
    assert.equal(decided.status, 202);
    const run = await waitForRun(api, runId);
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /rejected: not now/);
  });

  it('cancels a waiting run; a second cancel is a conflict', async () => {
    const id = await createWorkflow(api, { nodes: { wait: { type: 'delay', config: { ms: 60_000 } } }, edges: [] });
    const runId = await startRun(api, id);
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    assert.equal(
      (await api.request('POST', `/v1/runs/${runId}/cancel`, { body: { reason: 'changed my mind' } })).status,
      202,
    );
    const run = await waitForRun(api, runId);
    assert.equal(run.status, 'cancelled');
    assert.equal(run.nodes.wait?.status, 'cancelled');
    assert.equal((await api.request('POST', `/v1/runs/${runId}/cancel`)).status, 409);
  });

  it('answers a retried start with the same Idempotency-Key with the first run', async () => {
    const id = await createWorkflow(api, { nodes: { a: fn('1') }, edges: [] });
    const headers = { 'idempotency-key': 'start-once' };
    const [first, second] = await Promise.all([startRun(api, id, {}, headers), startRun(api, id, {}, headers)]);
    assert.equal(first, second);
    const other = await api.request('POST', `/v1/workflows/${id}/runs`, {
      body: { input: { different: true } },
      headers,
    });
    assert.equal(other.status, 422);
    await waitForRun(api, first);
  });

  it('refuses bad input and unknown ids with problem+json, writing nothing', async () => {
    const id = await createWorkflow(api, { nodes: { a: fn('1') }, edges: [] });
    const notObject = await api.request('POST', `/v1/workflows/${id}/runs`, { rawBody: '[1]' });
    assert.equal(notObject.status, 400);
    const badTag = await api.request('POST', `/v1/workflows/${id}/runs`, { body: { input: {}, tag: 'a b c' } });
    assert.equal(badTag.status, 422);
    const unknown = await api.request('POST', `/v1/workflows/00000000-0000-4000-8000-000000000000/runs`, { body: {} });
    assert.equal(unknown.status, 404);
    assert.equal((await api.request('GET', '/v1/runs/not-a-uuid')).status, 404);
    assert.equal((await api.request('GET', '/v1/runs/00000000-0000-4000-8000-000000000000')).status, 404);
    const pool = createPool(ctx.databaseUrl, { name: 'run-scenarios' });
    try {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM runs WHERE workflow_id = $1', [id]);
      assert.equal(Number(rows[0]?.n), 0);
    } finally {
      await pool.end();
    }
  });

  it('starts the runs of a known workflow and refuses those of an unknown one when they arrive together', async () => {
    const id = await createWorkflow(api, { nodes: { a: fn('1') }, edges: [] });
    const unknownId = '00000000-0000-4000-8000-000000000001';
    // Sent at once, so the API's group commit writes several in one batch: each gets its own answer.
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api.request<{ runId?: string; workflowVersion?: number }>(
          'POST',
          `/v1/workflows/${i % 2 ? unknownId : id}/runs`,
          { body: { input: { i } }, headers: { 'idempotency-key': `mixed-${i}` } },
        ),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map((_, i) => (i % 2 ? 404 : 202)),
    );
    const runIds = answers.flatMap((a) => (a.body.runId ? [a.body.runId] : []));
    assert.equal(new Set(runIds).size, 6);
    assert.ok(answers.every((a) => a.status !== 202 || a.body.workflowVersion === 1));
    // A refused start keeps no Idempotency-Key: the same key is free for the next request.
    assert.equal(
      (
        await api.request('POST', `/v1/workflows/${unknownId}/runs`, {
          body: {},
          headers: { 'idempotency-key': 'mixed-1' },
        })
      ).status,
      404,
    );
    for (const runId of runIds) assert.equal((await waitForRun(api, runId)).status, 'completed');
  });

  it('reads a run right after the 202, before the coordinator took it', async () => {
    const id = await createWorkflow(api, { nodes: { a: fn('1') }, edges: [] });
    const runId = await startRun(api, id);
    const run = await readRun(api, runId);
    assert.ok(['pending', 'running', 'completed'].includes(run.status));
    await waitForRun(api, runId);
  });
});
