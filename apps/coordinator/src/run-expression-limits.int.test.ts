import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool } from '#libs/db';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { coordinatorRole } from './coordinator.role.js';

const ctx = useTestContext('run-expression-limits');
const fn = (expression: string) => ({ type: 'function', config: { expression } });
/** Quadratic and native: seconds of work in one evaluation step, which jsonata's own timeout never interrupts. */
const RUNAWAY = '$count($distinct([1..200000])) > 0';
const LIMIT_MS = 300;

describe('runaway user expressions (every role in one process)', () => {
  let api: TestApp;

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], {
      ...ctx.config,
      EXPRESSION_TIMEOUT_MS: LIMIT_MS,
    });
  });

  it('fails the run of a runaway condition and of a runaway function node, while a normal run goes on', async () => {
    const runawayWhen = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1') },
      edges: [{ from: 'a', to: 'b', when: RUNAWAY }],
    });
    const runawayFunction = await createWorkflow(api, { nodes: { a: fn(RUNAWAY) }, edges: [] });
    const catastrophicRegex = await createWorkflow(api, {
      nodes: { a: fn(`$contains("${'x'.repeat(30)}", /(x+x+)+y/)`), b: fn('"matched"') },
      edges: [{ from: 'a', to: 'b', when: 'nodes.a' }],
    });
    const normal = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a * 10') },
      edges: [{ from: 'a', to: 'b', when: 'nodes.a > 1' }],
    });
    // Warm-up: every consumer group has joined before the clock starts.
    await waitForRun(api, await startRun(api, normal, { x: 2 }));

    const started = Date.now();
    const [whenRun, functionRun, regexRun] = await Promise.all([
      startRun(api, runawayWhen, { x: 1 }),
      startRun(api, runawayFunction, {}),
      startRun(api, catastrophicRegex, {}),
    ]);
    const normalRuns = await Promise.all(Array.from({ length: 3 }, (_, i) => startRun(api, normal, { x: 2 + i })));
    const finished = await Promise.all(normalRuns.map((id) => waitForRun(api, id)));
    const normalMs = Date.now() - started;
    assert.deepEqual(
      finished.map((run) => [run.status, run.output]),
      [
        ['completed', { b: 20 }],
        ['completed', { b: 30 }],
        ['completed', { b: 40 }],
      ],
    );
    assert.ok(normalMs < 10_000, `normal runs took ${normalMs} ms beside the runaways`);

    const failedWhen = await waitForRun(api, whenRun);
    assert.equal(failedWhen.status, 'failed');
    assert.match(failedWhen.error ?? '', /^edge a → b: ExpressionLimitError: .*300 ms/);
    assert.equal(failedWhen.nodes.a?.status, 'succeeded');

    const failedFunction = await waitForRun(api, functionRun);
    assert.equal(failedFunction.status, 'failed');
    assert.equal(failedFunction.nodes.a?.status, 'failed');
    assert.match(failedFunction.nodes.a?.error ?? '', /^ExpressionLimitError: .*300 ms/);

    // The linear-time regex engine answers at once: the condition is false and its node skipped.
    const regex = await waitForRun(api, regexRun);
    assert.equal(regex.status, 'completed');
    assert.deepEqual([regex.nodes.a?.output, regex.nodes.b?.status], [false, 'skipped']);

    // The named error is in the run events too (what SSE clients and `run watch` show).
    const pool = createPool(ctx.databaseUrl, { name: 'run-expression-limits' });
    try {
      const { rows } = await pool.query<{ run_id: string; kind: string; error: string }>(
        `SELECT run_id, kind, detail->>'error' AS error FROM run_events
          WHERE run_id = ANY($1) AND kind IN ('node.failed', 'run.failed') ORDER BY run_id, seq`,
        [[whenRun, functionRun]],
      );
      const of = (runId: string) => rows.filter((r) => r.run_id === runId).map((r) => [r.kind, r.error]);
      assert.match(String(of(whenRun)), /run\.failed,edge a → b: ExpressionLimitError/);
      assert.match(String(of(functionRun)), /node\.failed,ExpressionLimitError: .*run\.failed,node a failed/);
    } finally {
      await pool.end();
    }
  });
});
