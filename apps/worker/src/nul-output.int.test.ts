import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ALL_ROLES } from '#apps/all-in-one/src/all-roles.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';

const ctx = useTestContext('worker_nul_output');
const fn = (expression: string) => ({ type: 'function', config: { expression } });

/**
 * A node's output ends up in Postgres' jsonb (the run projection), which cannot hold U+0000. One tenant's output with
 * it must fail that node, by name, instead of stopping the projection of every run on its partition.
 */
describe('a node output holding U+0000', () => {
  let app: TestApp;

  before(async () => {
    await createTopics(ctx);
    // One partition: the runs after the bad one share its projection path.
    app = await startRoles(ctx, ALL_ROLES, { ...ctx.config, KAFKA_PARTITIONS: 1, LOG_LEVEL: 'fatal' });
  });

  it('fails its node with OutputNotStorable, and the runs after it are projected as usual', async () => {
    const bad = await createWorkflow(app, { nodes: { a: fn('"x\\u0000y"') }, edges: [] });
    const good = await createWorkflow(app, { nodes: { a: fn('input.x + 1') }, edges: [] });
    const badRun = await startRun(app, bad, {});
    const goodRun = await startRun(app, good, { x: 1 });

    const failed = await waitForRun(app, badRun);
    assert.equal(failed.status, 'failed');
    assert.match(JSON.stringify(failed), /OutputNotStorable/);
    const completed = await waitForRun(app, goodRun);
    assert.equal(completed.status, 'completed');
    assert.deepEqual(completed.output, { a: 2 });
  });
});
