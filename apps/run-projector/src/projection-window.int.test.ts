import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Registry } from 'prom-client';
import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { METRICS_REGISTRY } from '#libs/platform';
import { apiRole } from '#apps/api/src/api.role.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { runProjectorRole } from './run-projector.role.js';

/**
 * The projector is off the runs' path, so at light load its fetch waits for a window of changelog
 * (RUN_PROJECTOR_MIN_BYTES or RUN_PROJECTOR_MAX_WAIT_MS) and projects it in one Postgres transaction, instead of one
 * transaction per transition. With `RUN_PROJECTOR_MIN_BYTES=1` the same runs take about one projection per record.
 */
const ctx = useTestContext('projection-window');
const RUNS = 6;
const fn = (expression: string) => ({ type: 'function', config: { expression } });

describe('run projector: a window of changelog per Postgres transaction', () => {
  const config: AppConfig = { ...ctx.config, RUN_PROJECTOR_MAX_WAIT_MS: 1_500 };
  let api: TestApp;
  let pool: Pool;

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], config);
    pool = createPool(config.DATABASE_URL, { name: 'projection-window-test', max: 2 });
  });
  after(() => pool.end());

  const projections = async () => {
    const registry = api.app.get<Registry>(METRICS_REGISTRY);
    const values = ((await registry.getSingleMetric('run_projection_lag_seconds')?.get())?.values ?? []) as {
      metricName?: string;
      value: number;
    }[];
    return values.find((v) => v.metricName === 'run_projection_lag_seconds_count')?.value ?? 0;
  };

  it('projects runs started 100 ms apart in a few transactions, every transition of every run', async () => {
    const workflowId = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1'), c: fn('nodes.b * 2') },
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
    });
    const before = await projections();
    const runIds: string[] = [];
    for (let x = 0; x < RUNS; x++) {
      runIds.push(await startRun(api, workflowId, { x }));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const [x, runId] of runIds.entries()) {
      const run = await waitForRun(api, runId);
      assert.equal(run.status, 'completed');
      assert.deepEqual(run.output, { c: (x + 1) * 2 });
    }
    // Each run's version is the seq of its latest changelog record: the transitions projected.
    const { rows } = await pool.query<{ transitions: number }>(
      'SELECT sum(version)::int AS transitions FROM runs WHERE id = ANY($1::uuid[])',
      [runIds],
    );
    const transitions = rows[0]?.transitions ?? 0;
    const batches = (await projections()) - before;
    assert.ok(transitions >= RUNS * 4, `every run's start and three completions projected (${transitions})`);
    assert.ok(
      batches > 0 && batches * 3 <= transitions,
      `${transitions} transitions in ${batches} projections; one per transition means the fetch window is not used`,
    );
  });
});
