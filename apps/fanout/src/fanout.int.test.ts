import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { ApiKeysRepository } from '#libs/auth';
import { createPool, type Pool } from '#libs/db';
import type { EventCodec } from '#libs/events';
import { createKafka, openAdmin, openProducer, type Producer } from '#libs/kafka';
import { createRolesApp, EVENT_CODEC } from '#libs/platform';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { EventStreams } from './event-streams.service.js';
import { fanoutRole } from './fanout.role.js';
import { sseOpeners, type PlainReply } from './sse-test-client.js';
import { TestEvents } from './test-events.js';

const ctx = useTestContext('fanout');

interface Served {
  readonly test: TestApp;
  readonly url: string;
  readonly streams: EventStreams;
}

/** Starts the fanout role as its own app, listening on a free port (SSE needs a real socket, not inject). */
async function serve(roles = [fanoutRole], config = ctx.config): Promise<Served> {
  const test = await startRoles(ctx, roles, config);
  await test.app.listen(0, '127.0.0.1');
  const { port } = test.app.getHttpServer().address() as AddressInfo;
  return { test, url: `http://127.0.0.1:${port}`, streams: test.app.get(EventStreams) };
}

describe('fanout: run and workflow events as Server-Sent Events', () => {
  const agent = new Agent();
  let a: Served;
  let b: Served;
  let pool: Pool;
  let producer: Producer;
  let codec: EventCodec;
  let workspaceId: string;
  let readKey: string;
  let otherKey: string;
  const materializedTopic = ctx.topic('workflow.materialized').name;

  const { openStream, openPlain } = sseOpeners({
    dispatcher: agent,
    defaultKey: () => readKey,
    defer: (cleanup) => ctx.defer(cleanup),
  });

  let events: TestEvents;
  const createRun = (workspace = workspaceId) => events.createRun(workspace);
  const publish = (...args: Parameters<TestEvents['publish']>) => events.publish(...args);
  const commit = (...args: Parameters<TestEvents['commit']>) => events.commit(...args);

  /** The value of the metric line with this name and these labels, from GET /metrics. */
  const metric = async (base: string, name: string, labels: string[]): Promise<number> => {
    const text = await (await request(`${base}/metrics`, { dispatcher: agent })).body.text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  before(async () => {
    await createTopics(ctx);
    a = await serve();
    b = await serve();
    pool = createPool(ctx.databaseUrl, { name: 'fanout-test' });
    ctx.defer(() => pool.end());
    producer = openProducer(
      createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger }),
      'fanout-test',
    );
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    codec = a.test.app.get<EventCodec>(EVENT_CODEC);
    events = new TestEvents(pool, producer, codec);
    const keys = a.test.app.get(ApiKeysRepository);
    workspaceId = await keys.createWorkspace('fanout-main');
    readKey = (await keys.create(workspaceId, 'read')).key;
    otherKey = (await keys.create(await keys.createWorkspace('fanout-other'), 'admin')).key;
  });

  after(async () => {
    await agent.destroy();
  });

  it('replays history, then pushes live events: id = seq, event = kind, data = the event as camelCase JSON', async () => {
    const run = await createRun();
    await commit(run, 1, 'run.started');
    await commit(run, 2, 'node.dispatched', { nodeId: 'a' });
    const stream = await openStream(a.url, `/v1/runs/${run.runId}/events`);
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
    assert.match(String(stream.headers['cache-control']), /no-cache/);
    assert.equal(stream.retry, 2000);
    await stream.waitForEvents(2);
    await commit(run, 3, 'node.completed', { nodeId: 'a', status: 'succeeded' });
    // Kafka only, not in Postgres: arriving proves the live path (the Postgres re-read would never find it).
    await publish(run, 4, 'node.dispatched', 'running', 'b');
    await stream.waitForEvents(4);
    assert.deepEqual(stream.ids, [1, 2, 3, 4]);
    assert.deepEqual(
      stream.events.map((e) => e.event),
      ['run.started', 'node.dispatched', 'node.completed', 'node.dispatched'],
    );
    const third = stream.data[2] as Record<string, unknown>;
    assert.deepEqual(
      { ...third, occurredAt: undefined },
      {
        runId: run.runId,
        workflowId: run.workflowId,
        seq: 3,
        kind: 'node.completed',
        status: 'succeeded',
        nodeId: 'a',
        detail: { seq: 3 },
        occurredAt: undefined,
      },
    );
    assert.ok(!Number.isNaN(Date.parse(String(third.occurredAt))), 'occurredAt is an ISO timestamp');
    assert.ok(!stream.closedByServer);
  });

  it('resumes after Last-Event-ID (or ?lastEventId=) with no gap and no duplicate', async () => {
    const run = await createRun();
    for (let seq = 1; seq <= 4; seq++) await commit(run, seq, 'node.completed', { nodeId: `n${seq}` });
    const resumed = await openStream(a.url, `/v1/runs/${run.runId}/events`, { lastEventId: '2' });
    const polyfill = await openStream(b.url, `/v1/runs/${run.runId}/events?lastEventId=3`);
    await resumed.waitForEvents(2);
    await polyfill.waitForEvents(1);
    await commit(run, 5, 'node.completed');
    await publish(run, 4, 'node.completed'); // redelivered: already sent
    await publish(run, 5, 'node.completed'); // redelivered
    await commit(run, 6, 'node.completed', { publish: false }); // lost on the way to Kafka
    await commit(run, 7, 'node.completed'); // its arrival shows the gap, which Postgres fills
    await resumed.until((c) => c.ids.includes(7), 'seq 7');
    await polyfill.until((c) => c.ids.includes(7), 'seq 7');
    await commit(run, 8, 'node.completed');
    await resumed.until((c) => c.ids.includes(8), 'seq 8');
    await polyfill.until((c) => c.ids.includes(8), 'seq 8');
    assert.deepEqual(resumed.ids, [3, 4, 5, 6, 7, 8]);
    assert.deepEqual(polyfill.ids, [4, 5, 6, 7, 8]);
  });

  it('delivers every event on each of two fanout instances (each is alone in its own consumer group)', async () => {
    assert.notEqual(a.streams.feed.groupId, b.streams.feed.groupId);
    const runs = await Promise.all([createRun(), createRun(), createRun(), createRun()]);
    const streams = [];
    for (const run of runs) {
      streams.push(await openStream(a.url, `/v1/runs/${run.runId}/events`));
      streams.push(await openStream(b.url, `/v1/runs/${run.runId}/events`));
    }
    for (let seq = 1; seq <= 10; seq++) {
      await Promise.all(runs.map((run) => publish(run, seq, 'node.completed'))); // Kafka only: no Postgres fallback
    }
    for (const stream of streams) await stream.waitForEvents(10);
    for (const stream of streams) assert.deepEqual(stream.ids, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('closes the stream after the terminal event; reconnecting after it gets 204, which stops an EventSource', async () => {
    const run = await createRun();
    await commit(run, 1, 'run.started');
    const stream = await openStream(a.url, `/v1/runs/${run.runId}/events`);
    await stream.waitForEvents(1);
    await commit(run, 2, 'node.completed', { nodeId: 'a' });
    await commit(run, 3, 'run.completed', { status: 'completed', runStatus: 'completed' });
    await stream.ended;
    assert.ok(stream.closedByServer);
    assert.deepEqual(stream.ids, [1, 2, 3]);
    assert.equal(stream.events.at(-1)?.event, 'run.completed');

    const again = await openPlain(a.url, `/v1/runs/${run.runId}/events`, { lastEventId: '3' });
    assert.equal(again.status, 204);
    const replay = await openStream(b.url, `/v1/runs/${run.runId}/events`, { lastEventId: '1' });
    await replay.ended;
    assert.deepEqual(replay.ids, [2, 3]);
  });

  it('closes a finished run once its history is sent, even if its last event is not a terminal kind', async () => {
    const run = await createRun();
    await commit(run, 1, 'run.started', { publish: false });
    await commit(run, 2, 'node.skipped', { runStatus: 'cancelled', publish: false });
    const stream = await openStream(a.url, `/v1/runs/${run.runId}/events`);
    await stream.ended;
    assert.deepEqual(stream.ids, [1, 2]);
  });

  it('streams workflow versions: id = version, event = workflow.materialized, resumable', async () => {
    const workflow = await pool.query<{ id: string }>(
      "INSERT INTO workflows (workspace_id, name, latest_version) VALUES ($1, 'wf', 2) RETURNING id",
      [workspaceId],
    );
    const workflowId = (workflow.rows[0] as { id: string }).id;
    const [applied, rejected] = [randomUUID(), randomUUID()];
    await pool.query(
      `INSERT INTO workflow_versions (workflow_id, version, definition, applied_through_seq) VALUES
         ($1, 1, '{}', 0), ($1, 2, '{}', 2)`,
      [workflowId],
    );
    await pool.query(
      `INSERT INTO patches (id, workflow_id, seq, ops, status, version, reason) VALUES
         ($2, $1, 1, '[]', 'applied', 2, NULL), ($3, $1, 2, '[]', 'rejected', NULL, 'cycle')`,
      [workflowId, applied, rejected],
    );
    const stream = await openStream(a.url, `/v1/workflows/${workflowId}/events`, { lastEventId: '1' });
    await stream.waitForEvents(1);
    assert.deepEqual(stream.events[0]?.event, 'workflow.materialized');
    assert.deepEqual(
      { ...stream.data[0], occurredAt: undefined },
      {
        workflowId,
        kind: 'workflow.materialized',
        version: 2,
        appliedThroughSeq: 2,
        appliedPatchIds: [applied],
        rejected: [{ patchId: rejected, seq: 2, reason: 'cycle' }],
        occurredAt: undefined,
      },
    );
    const next = randomUUID();
    await pool.query(
      "INSERT INTO workflow_versions (workflow_id, version, definition, applied_through_seq) VALUES ($1, 3, '{}', 3)",
      [workflowId],
    );
    const value = await codec.encode('workflow.materialized', {
      eventId: randomUUID(),
      type: 'workflow.materialized',
      seq: 3,
      occurredAt: Date.now(),
      workspaceId,
      workflowId,
      version: 3,
      appliedThroughSeq: 3,
      appliedPatchIds: [next],
      rejected: [],
    });
    await producer.send({ topic: materializedTopic, messages: [{ key: workflowId, value }] });
    await stream.waitForEvents(2);
    assert.deepEqual(stream.ids, [2, 3]);
    assert.deepEqual(stream.data[1]?.appliedPatchIds, [next], 'the live event, not the history row');
    const fromStart = await openStream(b.url, `/v1/workflows/${workflowId}/events`);
    await fromStart.waitForEvents(3);
    assert.deepEqual(fromStart.ids, [1, 2, 3]);
  });

  it('answers 404 for another workspace, unknown or malformed ids; 401 without a valid key; 400 for a bad Last-Event-ID', async () => {
    const run = await createRun();
    const problem = (reply: PlainReply) => {
      assert.match(String(reply.headers['content-type']), /^application\/problem\+json/);
      return JSON.parse(reply.body) as { status: number };
    };
    for (const path of [`/v1/runs/${run.runId}/events`, `/v1/workflows/${run.workflowId}/events`]) {
      const foreign = await openPlain(a.url, path, { key: otherKey });
      assert.equal(foreign.status, 404, path);
      assert.equal(problem(foreign).status, 404);
      assert.equal((await openPlain(a.url, path, { key: null })).status, 401);
      const badKey = await openPlain(a.url, path, { key: 'ok_not-a-key' });
      assert.equal(badKey.status, 401);
      assert.equal(problem(badKey).status, 401);
      assert.equal((await openPlain(a.url, path, { lastEventId: 'abc' })).status, 400);
    }
    assert.equal((await openPlain(a.url, `/v1/runs/${randomUUID()}/events`)).status, 404);
    assert.equal((await openPlain(a.url, '/v1/runs/not-a-uuid/events')).status, 404);
    assert.equal((await openPlain(a.url, `/v1/workflows/${randomUUID()}/events`)).status, 404);
  });

  it('counts open streams and sent events, and cleans up when the client disconnects', async () => {
    const run = await createRun();
    await commit(run, 1, 'run.started');
    const before = a.streams.openStreams;
    const gaugeBefore = await metric(a.url, 'fanout_open_streams', ['stream="run"']);
    const stream = await openStream(a.url, `/v1/runs/${run.runId}/events`);
    await stream.waitForEvents(1);
    assert.equal(a.streams.openStreams, before + 1);
    assert.equal(await metric(a.url, 'fanout_open_streams', ['stream="run"']), gaugeBefore + 1);
    assert.ok((await metric(a.url, 'fanout_events_sent_total', ['stream="run"', 'source="history"'])) >= 1);
    await stream.close();
    await eventually(() => Promise.resolve(a.streams.openStreams === before || undefined), 'the stream to be closed');
    assert.equal(await metric(a.url, 'fanout_open_streams', ['stream="run"']), gaugeBefore);
    assert.ok((await metric(a.url, 'fanout_streams_ended_total', ['stream="run"', 'reason="client_closed"'])) >= 1);
    assert.equal(a.streams.feed.subscribers.has(`run:${run.runId}`), false, 'unsubscribed from the feed');
  });

  it('leaves no consumer group behind when an instance shuts down', async () => {
    const app = await createRolesApp([fanoutRole], ctx.config);
    await app.init();
    const feed = app.get(EventStreams).feed;
    await feed.whenReady(10_000);
    const admin = openAdmin(
      createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger }),
      'groups',
    );
    await admin.connect();
    try {
      const groups = async () => (await admin.listGroups()).groups.map((g) => g.groupId);
      assert.ok((await groups()).includes(feed.groupId));
      await app.close();
      assert.ok(!(await groups()).includes(feed.groupId));
    } finally {
      await admin.disconnect();
    }
  });

  it('sends keep-alive comments, and an idle stream picks up from Postgres what Kafka never brought', async () => {
    const c = await serve([fanoutRole], { ...ctx.config, FANOUT_HEARTBEAT_MS: 200 });
    const run = await createRun();
    const stream = await openStream(c.url, `/v1/runs/${run.runId}/events`);
    await stream.until((s) => s.comments.includes('keep-alive'), 'a keep-alive comment');
    await commit(run, 1, 'run.started', { publish: false });
    await commit(run, 2, 'run.failed', { status: 'failed', runStatus: 'failed', publish: false });
    await stream.ended;
    assert.deepEqual(stream.ids, [1, 2]);
  });

  it('refuses a workspace more open streams than SSE_MAX_STREAMS_PER_WORKSPACE with 429, until one closes', async () => {
    const capped = await serve([fanoutRole], { ...ctx.config, SSE_MAX_STREAMS_PER_WORKSPACE: 2 });
    const run = await createRun();
    await commit(run, 1, 'run.started');
    const path = `/v1/runs/${run.runId}/events`;
    const first = await openStream(capped.url, path);
    await openStream(capped.url, path);
    const refused = await openPlain(capped.url, path);
    assert.equal(refused.status, 429);
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((JSON.parse(refused.body) as { type: string }).type, 'urn:orchestrator:problem:rate-limited');
    await first.close();
    await eventually(
      () => Promise.resolve(capped.streams.openStreams < 2 ? true : undefined),
      'the closed stream to end',
    );
    await openStream(capped.url, path);
  });
});
