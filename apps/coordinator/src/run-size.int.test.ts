import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { ContentStore } from '#libs/cas';
import { createPool, type Pool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, readRun, startRun, waitForRun, type RunReply } from '#test/support/runs.js';
import { coordinatorRole } from './coordinator.role.js';

/**
 * Runs whose data is larger than a Kafka message may be (the broker's message.max.bytes, about 1 MiB here): they
 * travel through content-addressed storage and complete, and a run too large even for that fails by name. One
 * partition, so every run of the file shares it: a wedged partition would stop the runs after it.
 */
const ctx = useTestContext('run-size', { partitions: 1 });
const fn = (expression: string) => ({ type: 'function', config: { expression } });
/** Random base64 does not compress (the coordinator's transactions use snappy), so the broker sees every byte. */
const blob = (bytes: number) => randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64');

describe('runs larger than a Kafka message', () => {
  let api: TestApp;
  let pool: Pool;
  /** Polls the status column, not GET /runs: answering megabytes every 50 ms would starve the roles in this process. */
  const waitForEnd = async (runId: string): Promise<RunReply> => {
    await eventually(
      async () => {
        const { rows } = await pool.query<{ done: boolean }>(
          'SELECT finished_at IS NOT NULL AS done FROM runs WHERE id = $1',
          [runId],
        );
        return rows[0]?.done ? true : undefined;
      },
      `run ${runId} to end`,
      60_000,
    );
    return readRun(api, runId);
  };

  before(async () => {
    await createTopics(ctx);
    pool = createPool(ctx.databaseUrl, { name: 'run-size-test' });
    ctx.defer(() => pool.end());
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], {
      ...ctx.config,
      HTTP_BODY_LIMIT_BYTES: 4 * 1_048_576,
      // A definition with a prompt larger than a Kafka message, to show such a run fails instead of wedging.
      DEFINITION_MAX_BYTES: 4 * 1_048_576,
      RUN_INPUT_MAX_BYTES: 3 * 1_048_576,
      // RunTooLarge below is logged at error on purpose.
      LOG_LEVEL: 'fatal',
    });
  });

  it('completes a run with a large input, a large output and a large state, then the next run after it', async () => {
    const input = { blob: blob(1_300_000), x: 2 };
    // 20 outputs of 60 kB stay inline (under OUTPUT_INLINE_MAX_BYTES) but together make a state and a task input of
    // 1.2 MB; `big` outputs the whole input blob (stored by the worker); `after` reads them all.
    const slices = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`s${i}`, fn(`$substring(input.blob, ${i * 60_000}, 60000)`)]),
    );
    const workflowId = await createWorkflow(api, {
      nodes: {
        ...slices,
        big: fn('input.blob'),
        after: fn('$sum($map($keys(nodes), function($k) { $length($lookup(nodes, $k)) })) + input.x'),
      },
      edges: [...Object.keys(slices), 'big'].map((from) => ({ from, to: 'after' })),
    });
    const runId = await startRun(api, workflowId, input);
    const run = await waitForEnd(runId);
    assert.equal(run.status, 'completed', JSON.stringify({ ...run, nodes: undefined }).slice(0, 2_000));
    assert.deepEqual(run.output, { after: 20 * 60_000 + input.blob.length + 2 });
    const bigRef = run.nodes.big?.outputRef;
    assert.match(bigRef ?? '', /^sha256:[0-9a-f]{64}$/);
    const { rows } = await pool.query<{ workspace_id: string }>('SELECT workspace_id FROM runs WHERE id = $1', [runId]);
    assert.equal(await new ContentStore(pool).loadJson(rows[0]!.workspace_id, bigRef as string), input.blob);
    assert.equal(run.nodes.s3?.output, input.blob.slice(180_000, 240_000));
    // What the run's latest changelog record carries by reference is recorded, so the blob collector keeps it.
    const recorded = await pool.query<{ refs: string[] }>('SELECT content_refs AS refs FROM runs WHERE id = $1', [
      runId,
    ]);
    const refs = recorded.rows[0]?.refs ?? [];
    assert.ok(refs.length >= 2, `input and state by reference: ${JSON.stringify(refs)}`);
    for (const ref of refs) assert.ok(await new ContentStore(pool).get(rows[0]!.workspace_id, ref), `${ref} resolves`);

    const next = await waitForRun(
      api,
      await startRun(api, await createWorkflow(api, { nodes: { a: fn('input.x * 3') }, edges: [] }), { x: 5 }),
    );
    assert.equal(next.status, 'completed');
    assert.deepEqual(next.output, { a: 15 });
  });

  it('fails a run whose events cannot be bounded with RunTooLarge, and the partition goes on', async () => {
    // A hitl prompt travels inline in its node.waiting event: past the message limit, the run cannot go on.
    const workflowId = await createWorkflow(api, {
      nodes: { first: fn('1'), review: { type: 'hitl', config: { prompt: blob(1_200_000) } } },
      edges: [{ from: 'first', to: 'review' }],
    });
    const run = await waitForRun(api, await startRun(api, workflowId, {}), undefined, 60_000);
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /^RunTooLarge: its run\.events message would be \d+ bytes/);

    const next = await waitForRun(
      api,
      await startRun(api, await createWorkflow(api, { nodes: { a: fn('7') }, edges: [] }), {}),
    );
    assert.equal(next.status, 'completed');
  });

  it('refuses a run input over RUN_INPUT_MAX_BYTES with 413', async () => {
    const workflowId = await createWorkflow(api, { nodes: { a: fn('1') }, edges: [] });
    const reply = await api.request<{ type: string; detail: string; status: number }>(
      'POST',
      `/v1/workflows/${workflowId}/runs`,
      { body: { input: { blob: blob(3_200_000) } } },
    );
    assert.equal(reply.status, 413);
    assert.match(String(reply.headers['content-type']), /^application\/problem\+json/);
    assert.match(reply.body.detail, /RUN_INPUT_MAX_BYTES/);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs WHERE workflow_id = $1', [
      workflowId,
    ]);
    assert.equal(rows[0]?.n, 0, 'nothing written');
  });
});
