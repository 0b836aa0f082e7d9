import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { coordinatorRole } from './coordinator.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';

const ctx = useTestContext('run-timeout');

describe('the run timeout (swept from unfinished runs, no timer row per run)', () => {
  it('times out a run that waits too long, cancels its node and expires its approval', async () => {
    await createTopics(ctx);
    const api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole], {
      ...ctx.config,
      RUN_DEFAULT_TIMEOUT_MS: 1_500,
    });
    const id = await createWorkflow(api, { nodes: { review: { type: 'hitl', config: { prompt: 'ok?' } } }, edges: [] });
    const started = Date.now();
    const runId = await startRun(api, id);
    const waiting = await waitForRun(api, runId, (r) => r.status === 'waiting');
    assert.equal(waiting.nodes.review?.status, 'waiting');
    const run = await waitForRun(api, runId, undefined, 15_000);
    assert.equal(run.status, 'timed_out', JSON.stringify(run));
    assert.ok(Date.now() - started >= 1_500, 'not before its time');
    assert.match(run.error ?? '', /timed out after 1500 ms/);
    assert.equal(run.nodes.review?.status, 'cancelled');
    const late = await api.request('POST', `/v1/runs/${runId}/nodes/review/approval`, { body: { approved: true } });
    assert.equal(late.status, 409);
  });
});
