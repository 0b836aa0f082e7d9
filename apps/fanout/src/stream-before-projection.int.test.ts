import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { ALL_ROLES } from '#apps/all-in-one/src/all-roles.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { createPool, type Pool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { ADMIN_KEY, createTopics, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun } from '#test/support/runs.js';
import { sseOpeners, type SseTestClient } from './sse-test-client.js';

const ctx = useTestContext('fanout_before_projection');
const fn = (expression: string) => ({ type: 'function', config: { expression } });

const endsWithin = async (stream: SseTestClient, ms: number) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`stream still open after ${ms} ms; got ids ${stream.ids.join(',')}`)),
      ms,
    );
  });
  await Promise.race([stream.ended, timeout]).finally(() => clearTimeout(timer));
};

/**
 * Run events reach Postgres only through the run projector. With no projector at all, a stream opened after the run's
 * first events (or after its end) must still get every event from the first, in order, from the fanout's own feed.
 */
describe('a run stream ahead of the projection', () => {
  const agent = new Agent();
  let app: TestApp;
  let url: string;
  let pool: Pool;
  const streams = sseOpeners({ dispatcher: agent, defaultKey: () => ADMIN_KEY, defer: (c) => ctx.defer(c) });

  before(async () => {
    await createTopics(ctx);
    app = await startRoles(
      ctx,
      ALL_ROLES.filter((role) => role !== runProjectorRole),
    );
    await app.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.app.getHttpServer().address() as AddressInfo).port}`;
    pool = createPool(ctx.databaseUrl, { name: 'fanout-before-projection-test' });
    ctx.defer(() => pool.end());
  });

  after(async () => {
    await agent.destroy();
  });

  it('streams 1..n from the feed when Postgres has none of them, also once the run is over', async () => {
    const workflowId = await createWorkflow(app, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1'), c: fn('nodes.b * 2') },
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
    });
    const runId = await startRun(app, workflowId, { x: 1 });
    const live = await streams.openStream(url, `/v1/runs/${runId}/events`, {});
    await endsWithin(live, 15_000);
    const expected = live.ids.map((_, i) => i + 1);
    assert.deepEqual(live.ids, expected, 'ids 1..n, without gap or duplicate');
    assert.equal(live.events[0]?.event, 'run.started');
    assert.equal(live.events.at(-1)?.event, 'run.completed');

    const later = await streams.openStream(url, `/v1/runs/${runId}/events`, {});
    await endsWithin(later, 15_000);
    assert.deepEqual(later.ids, expected, 'a stream opened after the end replays the whole run');

    const resumed = await streams.openStream(url, `/v1/runs/${runId}/events`, { lastEventId: '2' });
    await endsWithin(resumed, 15_000);
    assert.deepEqual(resumed.ids, expected.slice(2));

    const { rows } = await pool.query('SELECT 1 FROM run_events WHERE run_id = $1', [runId]);
    assert.equal(rows.length, 0, 'nothing came from Postgres: no projector runs here');
  });
});
