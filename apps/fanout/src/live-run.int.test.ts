import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { ALL_ROLES } from '#apps/all-in-one/src/all-roles.js';
import { createPool, type Pool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { ADMIN_KEY, createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun } from '#test/support/runs.js';
import { sseOpeners } from './sse-test-client.js';

const ctx = useTestContext('fanout_live_run');
const fn = (expression: string) => ({ type: 'function', config: { expression } });

/** The real pipeline (every role in one app, as `npm start` runs it) producing the events, the fanout streaming them. */
describe('fanout with the real pipeline (all-in-one)', () => {
  const agent = new Agent();
  let app: TestApp;
  let url: string;
  let pool: Pool;

  const streams = sseOpeners({
    dispatcher: agent,
    defaultKey: () => ADMIN_KEY,
    defer: (cleanup) => ctx.defer(cleanup),
  });
  const openStream = (path: string, lastEventId?: string) =>
    streams.openStream(url, path, lastEventId === undefined ? {} : { lastEventId });

  before(async () => {
    await createTopics(ctx);
    app = await startRoles(ctx, ALL_ROLES);
    await app.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.app.getHttpServer().address() as AddressInfo).port}`;
    pool = createPool(ctx.databaseUrl, { name: 'fanout-live-run-test' });
    ctx.defer(() => pool.end());
  });

  after(async () => {
    await agent.destroy();
  });

  it('streams a run from run.started to run.completed as the coordinator records it, then closes', async () => {
    const workflowId = await createWorkflow(app, {
      nodes: { a: fn('input.x'), wait: { type: 'delay', config: { ms: 300 } }, b: fn('nodes.a + 1') },
      edges: [
        { from: 'a', to: 'wait' },
        { from: 'wait', to: 'b' },
      ],
    });
    const runId = await startRun(app, workflowId, { x: 1 });
    const stream = await openStream(`/v1/runs/${runId}/events`);
    await stream.ended;
    assert.ok(stream.closedByServer, 'the server ended the stream after the terminal event');
    const kinds = stream.events.map((e) => e.event);
    assert.equal(kinds[0], 'run.started');
    assert.equal(kinds.at(-1), 'run.completed');
    assert.deepEqual(
      stream.ids,
      stream.ids.map((_, i) => i + 1),
      'ids are the run events 1..n, without gap or duplicate',
    );
    // The stream is fed from Kafka; the projection into Postgres may trail it by a moment.
    const stored = await eventually(async () => {
      const { rows } = await pool.query<{ seq: string; kind: string }>(
        'SELECT seq, kind FROM run_events WHERE run_id = $1 ORDER BY seq',
        [runId],
      );
      return rows.length >= kinds.length ? rows : undefined;
    }, 'the run events projected');
    assert.deepEqual(
      kinds,
      stored.map((r) => r.kind),
    );
    const completed = stream.data.find((d) => d.kind === 'node.completed' && d.nodeId === 'b');
    assert.ok(completed, JSON.stringify(stream.data));
    assert.equal(completed.runId, runId);
    assert.equal(completed.workflowId, workflowId);

    // A client that saw everything up to the middle resumes from there, gets the rest, and is closed again.
    const middle = Math.floor(stream.ids.length / 2);
    const resumed = await openStream(`/v1/runs/${runId}/events`, String(middle));
    await resumed.ended;
    assert.deepEqual(resumed.ids, stream.ids.slice(middle));
  });

  it('streams new workflow versions as the materializer makes them', async () => {
    const workflowId = await createWorkflow(app, { nodes: { a: fn('1') }, edges: [] });
    const stream = await openStream(`/v1/workflows/${workflowId}/events`);
    await stream.waitForEvents(1);
    const patch = await app.request<{ patchId: string }>('POST', `/v1/workflows/${workflowId}/patches`, {
      body: { ops: [{ op: 'add', path: '/nodes/b', value: fn('2') }] },
    });
    assert.equal(patch.status, 202);
    await stream.waitForEvents(2);
    assert.deepEqual(stream.ids, [1, 2]);
    assert.deepEqual(stream.data[1]?.appliedPatchIds, [patch.body.patchId]);
    assert.equal(stream.events[1]?.event, 'workflow.materialized');
  });
});
