import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { apiRole } from '#apps/api/src/api.role.js';
import { ApiKeysRepository } from '#libs/auth';
import type { RoleDefinition } from '#libs/platform';
import { createPool, type Pool } from '#libs/db';
import type { EventCodec } from '#libs/events';
import { createKafka, openProducer } from '#libs/kafka';
import { EVENT_CODEC } from '#libs/platform';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { EventStreams } from './event-streams.service.js';
import { fanoutRole } from './fanout.role.js';
import { sseOpeners } from './sse-test-client.js';
import { TestEvents } from './test-events.js';

const ctx = useTestContext('fanout_through_api');

async function serve(roles: RoleDefinition[], config = ctx.config): Promise<{ test: TestApp; url: string }> {
  const test = await startRoles(ctx, roles, config);
  await test.app.listen(0, '127.0.0.1');
  const { port } = test.app.getHttpServer().address() as AddressInfo;
  return { test, url: `http://127.0.0.1:${port}` };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('fanout through the API address', () => {
  const agent = new Agent();
  let fanout: { test: TestApp; url: string };
  let api: { test: TestApp; url: string };
  let pool: Pool;
  let events: TestEvents;
  let workspaceId: string;
  let key: string;

  const { openStream, openPlain } = sseOpeners({
    dispatcher: agent,
    defaultKey: () => key,
    defer: (cleanup) => ctx.defer(cleanup),
  });

  before(async () => {
    await createTopics(ctx);
    // Two processes as production runs them: the fanout alone, and the API pointing at it.
    fanout = await serve([fanoutRole]);
    api = await serve([apiRole], { ...ctx.config, FANOUT_URL: fanout.url });
    pool = createPool(ctx.databaseUrl, { name: 'fanout-through-api-test' });
    ctx.defer(() => pool.end());
    const producer = openProducer(
      createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger }),
      'fanout-through-api-test',
    );
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    const codec = fanout.test.app.get<EventCodec>(EVENT_CODEC);
    events = new TestEvents(pool, producer, codec);
    const keys = fanout.test.app.get(ApiKeysRepository);
    workspaceId = await keys.createWorkspace('through-api');
    key = (await keys.create(workspaceId, 'read')).key;
  });

  after(async () => {
    await agent.destroy();
  });

  it('streams a run through the API: Last-Event-ID passed on, live events as they come, closed after the end', async () => {
    const run = await events.createRun(workspaceId);
    for (let seq = 1; seq <= 3; seq++) await events.commit(run, seq, 'node.completed');
    const stream = await openStream(api.url, `/v1/runs/${run.runId}/events`, { lastEventId: '1' });
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
    assert.match(String(stream.headers['cache-control']), /no-cache/);
    await stream.waitForEvents(2);
    await events.commit(run, 4, 'node.completed', { nodeId: 'a' });
    await stream.waitForEvents(3);
    await events.commit(run, 5, 'run.completed', { status: 'completed', runStatus: 'completed' });
    await stream.ended;
    assert.ok(stream.closedByServer && stream.failure === undefined, 'ended cleanly');
    assert.deepEqual(stream.ids, [2, 3, 4, 5]);
    assert.deepEqual(stream.data[2]?.nodeId, 'a');
    assert.equal((await openPlain(api.url, `/v1/runs/${run.runId}/events`, { lastEventId: '5' })).status, 204);
  });

  it('streams workflow versions through the API, with ?lastEventId= passed on', async () => {
    const { workflowId } = await events.createRun(workspaceId);
    await pool.query(
      `INSERT INTO workflow_versions (workflow_id, version, definition, applied_through_seq)
       VALUES ($1, 1, '{}', 0), ($1, 2, '{}', 0)`,
      [workflowId],
    );
    const stream = await openStream(api.url, `/v1/workflows/${workflowId}/events?lastEventId=1`);
    await stream.waitForEvents(1);
    assert.deepEqual(stream.ids, [2]);
  });

  it("passes the fanout's errors through: 401 and 404 as problem+json", async () => {
    const run = await events.createRun(workspaceId);
    const missing = await openPlain(api.url, `/v1/runs/${run.runId}/events`, { key: null });
    const wrong = await openPlain(api.url, `/v1/runs/${run.runId}/events`, { key: 'ok_wrong' });
    const foreign = await openPlain(api.url, `/v1/runs/00000000-0000-4000-8000-000000000000/events`);
    for (const [reply, status] of [
      [missing, 401],
      [wrong, 401],
      [foreign, 404],
    ] as const) {
      assert.equal(reply.status, status);
      assert.match(String(reply.headers['content-type']), /^application\/problem\+json/);
      assert.equal((JSON.parse(reply.body) as { status: number }).status, status);
    }
  });

  it('closes the fanout stream when the client leaves the API', async () => {
    const streams = fanout.test.app.get(EventStreams);
    const run = await events.createRun(workspaceId);
    await events.commit(run, 1, 'run.started');
    const before = streams.openStreams;
    const stream = await openStream(api.url, `/v1/runs/${run.runId}/events`);
    await stream.waitForEvents(1);
    assert.equal(streams.openStreams, before + 1);
    await stream.close();
    await eventually(() => Promise.resolve(streams.openStreams === before || undefined), 'the fanout stream to close');
  });

  it('answers 503 problem+json when the fanout cannot be reached', async () => {
    const lonely = await startRoles(ctx, [apiRole], {
      ...ctx.config,
      FANOUT_URL: `http://127.0.0.1:${await closedPort()}`,
    });
    const reply = await lonely.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'GET', url: '/v1/runs/00000000-0000-4000-8000-000000000000/events' });
    assert.equal(reply.statusCode, 503);
    assert.match(String(reply.headers['content-type']), /^application\/problem\+json/);
  });

  it('in one process with the api role, the fanout serves the routes itself (registered once, no proxy)', async () => {
    const allInOne = await serve([apiRole, fanoutRole]);
    const run = await events.createRun(workspaceId);
    await events.commit(run, 1, 'run.started', { publish: false });
    await events.commit(run, 2, 'run.completed', { runStatus: 'completed', publish: false });
    const stream = await openStream(allInOne.url, `/v1/runs/${run.runId}/events`);
    await stream.ended;
    assert.deepEqual(stream.ids, [1, 2]);
    assert.equal(allInOne.test.app.get(EventStreams).openStreams, 0);
  });
});
