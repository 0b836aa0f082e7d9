import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { createPool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles } from '#test/support/app.js';
import { startRoleProcess } from '#test/support/role-process.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';

const ctx = useTestContext('delay-restart');
const DELAY_MS = 2_000;

describe('a delay node across a coordinator and projector crash (invariant 3)', () => {
  it('fires its durable timer after the coordinator and the projector are killed and restarted past the due time', async () => {
    await createTopics(ctx);
    const api = await startRoles(ctx, [apiRole, outboxRelayRole, workerRole]);
    const coordinator = await startRoleProcess(ctx, 'coordinator');
    const projector = await startRoleProcess(ctx, 'run-projector');
    const id = await createWorkflow(api, {
      nodes: {
        wait: { type: 'delay', config: { ms: DELAY_MS } },
        after: { type: 'function', config: { expression: '"done"' } },
      },
      edges: [{ from: 'wait', to: 'after' }],
    });
    const started = Date.now();
    const runId = await startRun(api, id);
    await waitForRun(api, runId, (run) => run.status === 'waiting' && run.nodes.wait?.status === 'waiting');
    await coordinator.kill();
    await projector.kill();
    // Down until well past the due time: the timer must not depend on the processes that set and project it.
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS + 500));
    const pool = createPool(ctx.databaseUrl, { name: 'delay-check' });
    ctx.defer(() => pool.end());
    const due = await pool.query<{ kind: string }>('SELECT kind FROM run_timers WHERE run_id = $1 ORDER BY kind', [
      runId,
    ]);
    assert.deepEqual(
      due.rows.map((r) => r.kind),
      ['delay'],
      'the due delay is still stored while neither runs',
    );
    await projector.restart();
    await coordinator.restart();
    const run = await waitForRun(api, runId, undefined, 30_000);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    assert.deepEqual(run.output, { after: 'done' });
    assert.deepEqual(run.nodes.wait?.output, { delayedMs: DELAY_MS });
    assert.ok(Date.now() - started >= DELAY_MS, 'not before its time');
    const left = await pool.query('SELECT 1 FROM run_timers WHERE run_id = $1', [runId]);
    assert.equal(left.rowCount, 0, 'a finished run leaves no timer behind');
    assert.equal(await coordinator.current().stop('SIGTERM'), 0);
    assert.equal(await projector.current().stop('SIGTERM'), 0);
  });
});
