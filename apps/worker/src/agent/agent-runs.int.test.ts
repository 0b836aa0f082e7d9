import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool } from '#libs/db';
import { apiRole } from '#apps/api/src/api.role.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { workerRole } from '../worker.role.js';
import { startChatCompletionsStandIn, type ChatCompletionsStandIn } from './chat-completions-stand-in.js';

const ctx = useTestContext('agent-runs');
const API_KEY = 'sk-agent-runs';

describe('runs with agent nodes (api, relay, coordinator, function and agent workers; an LLM stand-in)', () => {
  let api: TestApp;
  let llm: ChatCompletionsStandIn;

  before(async () => {
    await createTopics(ctx);
    llm = await startChatCompletionsStandIn(API_KEY);
    ctx.defer(() => llm.close());
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], {
      ...ctx.config,
      WORKER_TYPES: ['function', 'agent'],
      LLM_BASE_URL: llm.baseUrl,
      LLM_API_KEY: API_KEY,
    });
  });

  it('asks the model with the upstream output in the prompt and hands its answer on', async () => {
    const id = await createWorkflow(api, {
      nodes: {
        topic: { type: 'function', config: { expression: '$uppercase(input.topic)' } },
        write: {
          type: 'agent',
          config: { model: 'gpt-test', system: 'Be brief.', prompt: 'Write one line about {{ nodes.topic }}.' },
        },
        shape: { type: 'function', config: { expression: '{"line": nodes.write.text, "tokens": nodes.write.usage}' } },
      },
      edges: [
        { from: 'topic', to: 'write' },
        { from: 'write', to: 'shape' },
      ],
    });
    const runId = await startRun(api, id, { topic: 'kafka' });
    const run = await waitForRun(api, runId);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.deepEqual(run.output, {
      shape: { line: 'echo: Write one line about KAFKA.', tokens: { promptTokens: 7, completionTokens: 6 } },
    });
    const asked = llm.requests.filter((r) => r.headers['idempotency-key']?.toString().startsWith(runId));
    assert.deepEqual(
      asked.map((r) => r.headers['idempotency-key']),
      [`${runId}:write:1`],
    );

    const metrics = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /^agent_tokens_total\{model="gpt-test-2026-01-01",kind="completion"[^}]*\} [1-9]/m);
  });

  it('retries a rate-limited call under the node’s retry policy, one idempotency key per attempt', async () => {
    const id = await createWorkflow(api, {
      nodes: {
        write: {
          type: 'agent',
          config: { model: 'gpt-test', prompt: 'Hello {{ input.name }}' },
          retry: { maxAttempts: 3, backoffMs: 50 },
        },
      },
      edges: [],
    });
    llm.failNext(2, 429);
    const runId = await startRun(api, id, { name: 'Ada' });
    const run = await waitForRun(api, runId);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.equal(run.nodes.write?.attempts, 3);
    assert.equal((run.output as { write: { text: string } }).write.text, 'echo: Hello Ada');
    const keys = llm.requests.map((r) => r.headers['idempotency-key']).filter((k) => String(k).startsWith(runId));
    assert.deepEqual(keys, [`${runId}:write:1`, `${runId}:write:2`, `${runId}:write:3`]);
  });

  it('fails the run with the provider’s message when the attempts run out', async () => {
    const id = await createWorkflow(api, {
      nodes: {
        write: { type: 'agent', config: { model: 'gpt-test', prompt: 'Hi' }, retry: { maxAttempts: 2, backoffMs: 20 } },
      },
      edges: [],
    });
    llm.failNext(2, 503);
    const run = await waitForRun(api, await startRun(api, id));
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.equal(run.nodes.write?.attempts, 2);
    assert.match(String(run.nodes.write?.error), /model API answered HTTP 503/);
  });

  it('refuses a definition whose prompt placeholder is not JSONata, writing nothing', async () => {
    const pool = createPool(ctx.databaseUrl, { name: 'agent-runs' });
    ctx.defer(() => pool.end());
    const workflows = async () =>
      (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM workflows')).rows[0]?.n;
    const before = await workflows();
    const response = await api.request<{ errors: string[] }>('POST', '/v1/workflows', {
      body: {
        name: 'bad-agent',
        definition: {
          nodes: { write: { type: 'agent', config: { model: 'm', prompt: 'Hi {{ input.( }}' } } },
          edges: [],
        },
      },
    });
    assert.equal(response.status, 422, JSON.stringify(response.body));
    assert.equal(response.body.errors.length, 1);
    assert.match(response.body.errors[0]!, /^nodes\.write\.config\.prompt: "\{\{ input\.\( \}\}" is not valid JSONata/);
    assert.equal(await workflows(), before);
  });
});
