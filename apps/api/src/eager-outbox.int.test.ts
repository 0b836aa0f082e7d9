import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { createPool, inTransaction, type Pool } from '#libs/db';
import { createKafka } from '#libs/kafka';
import { insertOutboxRows } from '#libs/outbox';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { readTopics } from '#test/support/topic-reader.js';
import { apiRole } from './api.role.js';

/**
 * Eager outbox publishing (DESIGN §1): the API publishes the rows of its run starts and patches right after their
 * commit, so commands flow with no relay running at all; a row its writer never published (it died after the commit)
 * is the relays' once its grace is over, and not before.
 */
const ctx = useTestContext('eager-outbox');
const fn = (expression: string) => ({ type: 'function', config: { expression } });

describe('eager outbox publishing', () => {
  let api: TestApp;
  let pool: Pool;

  before(async () => {
    await createTopics(ctx);
    // No outbox relay in this process: whatever reaches Kafka, the API published itself.
    api = await startRoles(ctx, [apiRole, materializerRole, coordinatorRole, runProjectorRole, workerRole]);
    pool = createPool(ctx.databaseUrl, { name: 'eager-outbox-test' });
    ctx.defer(() => pool.end());
  });

  it('runs a workflow and applies a patch without any relay, and leaves no row of theirs in the outbox', async () => {
    const workflowId = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1') },
      edges: [{ from: 'a', to: 'b' }],
    });
    const run = await waitForRun(api, await startRun(api, workflowId, { x: 41 }));
    assert.equal(run.status, 'completed');
    assert.deepEqual(run.output, { b: 42 });

    const patch = await api.request<{ patchId: string }>('POST', `/v1/workflows/${workflowId}/patches`, {
      body: { ops: [{ op: 'add', path: '/nodes/c', value: fn('1') }] },
    });
    assert.equal(patch.status, 202);
    await eventually(async () => {
      const reply = await api.request<{ status: string }>(
        'GET',
        `/v1/workflows/${workflowId}/patches/${patch.body.patchId}`,
      );
      return reply.body.status === 'applied' ? true : undefined;
    }, 'the patch applied');
    // (workflow.materialized rows, which the materializer writes, wait for a relay as before.)
    const eagerTopics = [ctx.topic('run.requested').name, ctx.topic('patch.created').name];
    await eventually(
      async () =>
        (await pool.query('SELECT 1 FROM outbox WHERE topic = ANY($1)', [eagerTopics])).rowCount === 0
          ? true
          : undefined,
      'no run start or patch left in the outbox',
    );
  });

  it('leaves a row its writer never published to the relays, once its grace is over', async () => {
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: `${ctx.id}-reader`, logger: ctx.logger });
    const topic = ctx.topic('run.control').name;
    const reader = await readTopics(kafka, [topic], ctx.group('eager-reader'));
    ctx.defer(() => reader.stop());
    // A writer that committed and died: its row carries the grace, and nobody publishes it.
    const graceMs = 1_500;
    const committedAt = Date.now();
    await inTransaction(pool, (client) =>
      insertOutboxRows(client, [{ topic, key: 'orphan', eventType: 'test', payload: Buffer.from('left behind') }], {
        publishAfterMs: graceMs,
      }),
    );
    await startRoles(ctx, [outboxRelayRole], { ...ctx.config, OUTBOX_RELAY_POLL_INTERVAL_MS: 100 });
    await reader.until((messages) => messages.some((m) => m.key === 'orphan'), 15_000);
    const waited = Date.now() - committedAt;
    assert.ok(waited >= graceMs - 50, `published after ${waited} ms, before its grace of ${graceMs} ms`);
    await eventually(
      async () =>
        (await pool.query("SELECT 1 FROM outbox WHERE message_key = 'orphan'")).rowCount === 0 ? true : undefined,
      'the row deleted by the relay',
    );
  });
});
