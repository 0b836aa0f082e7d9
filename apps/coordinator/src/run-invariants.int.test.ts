import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { before, describe, it } from 'node:test';
import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { envelope, type EventCodec, type NodeCompleted } from '#libs/events';
import { createKafka, openAdmin, openProducer, type Admin, type Producer } from '#libs/kafka';
import { EVENT_CODEC } from '#libs/platform';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { startTestHttpServer, type TestHttpServer } from '#apps/worker/src/http/test-http-server.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import {
  createWorkflow,
  lastOffsets,
  partitionOf,
  readRun,
  runEventAnomalies,
  startRun,
  waitForCaughtUp,
  waitForCommitted,
  waitForRun,
} from '#test/support/runs.js';
import { readTopics, type ReadMessage, type TopicReader } from '#test/support/topic-reader.js';
import { coordinatorRole } from './coordinator.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';

/**
 * DESIGN §3 invariants 3, 4 and 6 at the coordinator's edges: messages a test produces straight to the topics (the
 * duplicates, stale and poison messages a real cluster delivers now and then) must change nothing, or fail exactly the
 * run they belong to, and never hold up anything else.
 */
const ctx = useTestContext('run-invariants');
const fn = (expression: string) => ({ type: 'function', config: { expression } });
const delay = { type: 'delay', config: { ms: 60_000 } };
const hitl = { type: 'hitl', config: { prompt: 'Ship it?' } };
/** Longer than the consumer session timeout below. */
const SLOW_MS = 8_000;

describe('run invariants: duplicates, stale completions, poison', () => {
  const config: AppConfig = {
    ...ctx.config,
    CONSUMER_MAX_ATTEMPTS: 2,
    CONSUMER_SESSION_TIMEOUT_MS: 6_000,
    SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
  };
  const topic = (logical: string) => `${ctx.topicPrefix}${logical}`;
  const coordinatorGroup = ctx.group('coordinator');
  let api: TestApp;
  let server: TestHttpServer;
  let codec: EventCodec;
  let producer: Producer;
  let admin: Admin;
  let pool: Pool;
  let deadLetters: TopicReader;
  const held: ServerResponse[] = [];

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], config);
    codec = api.app.get<EventCodec>(EVENT_CODEC);
    // Deferred after the app, so it runs first: a request left hanging would otherwise hold the worker's close.
    server = await startTestHttpServer((request, response) => {
      const seen = server.requests.filter((r) => r.path === request.path).length;
      if (request.path.startsWith('/retry-then-hang')) {
        // The first call fails; later ones wait until the test lets them go.
        if (seen === 1) response.writeHead(503).end('try again');
        else held.push(response);
      } else if (request.path.startsWith('/ok')) {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      } else if (request.path.startsWith('/slow')) {
        setTimeout(() => {
          if (!response.destroyed) response.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}');
        }, SLOW_MS);
      } else {
        response.writeHead(404).end();
      }
    });
    ctx.defer(() => server.close());
    const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${ctx.id}-test`, logger: ctx.logger });
    producer = openProducer(kafka, 'run-invariants-test');
    admin = openAdmin(kafka, 'run-invariants-test');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    pool = createPool(ctx.databaseUrl, { name: 'run-invariants-test' });
    ctx.defer(() => pool.end());
    deadLetters = await readTopics(
      kafka,
      ['node.dispatch.function.dlq', 'node.completed.dlq'].map(topic),
      ctx.group('dlq-reader'),
    );
    ctx.defer(() => deadLetters.stop());
  });

  const workspaceOf = async (runId: string) =>
    (await pool.query<{ w: string }>('SELECT workspace_id AS w FROM runs WHERE id = $1', [runId])).rows[0]?.w ?? '';

  const completion = (
    workspaceId: string,
    runId: string,
    nodeId: string,
    attempt: number,
    outcome: Pick<NodeCompleted, 'status'> & Partial<Pick<NodeCompleted, 'outputJson' | 'error'>>,
  ): NodeCompleted => ({
    ...envelope(0, workspaceId),
    type: 'node.completed',
    runId,
    nodeId,
    attempt,
    outputJson: null,
    outputRef: null,
    error: null,
    nodeType: null,
    startedAt: null,
    cached: null,
    ...outcome,
  });

  /** Produces completions in one send (in this order within each run's partition); returns the last offsets. */
  const sendCompletions = async (events: readonly NodeCompleted[]) => {
    const t = topic('node.completed');
    const messages = await Promise.all(
      events.map(async (e) => ({ key: e.runId, value: await codec.encode('node.completed', e) })),
    );
    const counts = new Map<number, number>();
    for (const e of events) {
      const p = partitionOf(e.runId, config.KAFKA_PARTITIONS);
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    return lastOffsets(await producer.send({ topic: t, acks: -1, messages }), counts);
  };

  /** Everything a message applied to a run would have changed: its row, its event log, what was published. */
  const snapshot = async (runId: string) => {
    const { rows } = await pool.query<Record<string, unknown>>(
      `SELECT status, version, event_seq, nodes, edges, output, error,
              (SELECT count(*) FROM run_events e WHERE e.run_id = r.id) AS events,
              (SELECT count(*) FROM run_timers t WHERE t.run_id = r.id) AS timers,
              (SELECT count(*) FROM outbox o WHERE o.message_key = r.id::text) AS unpublished
         FROM runs r WHERE id = $1`,
      [runId],
    );
    const published: Record<string, string> = {};
    for (const logical of ['node.dispatch.function', 'node.dispatch.http_request', 'run.events']) {
      const offsets = await admin.fetchTopicOffsets(topic(logical));
      published[logical] = offsets.map((o) => `${o.partition}:${o.high}`).join(',');
    }
    return { row: rows[0], published };
  };

  /** Waits until the relay published everything (the outbox is empty), so topic end offsets are final. */
  const outboxDrained = () =>
    eventually(
      async () => ((await pool.query('SELECT 1 FROM outbox LIMIT 1')).rowCount === 0 ? true : undefined),
      'an empty outbox',
    );

  /** Starts runs of the workflow until `wanted` of them are keyed into `partition`; returns all it started. */
  const runsInPartition = async (workflowId: string, partition: number, wanted: number) => {
    const all: string[] = [];
    const inPartition: string[] = [];
    for (let i = 0; i < 60 && inPartition.length < wanted; i++) {
      const runId = await startRun(api, workflowId, { x: i });
      all.push(runId);
      if (partitionOf(runId, config.KAFKA_PARTITIONS) === partition) inPartition.push(runId);
    }
    assert.equal(inPartition.length, wanted, `no ${wanted} runs found in partition ${partition}`);
    return { all, inPartition };
  };

  const deadLetterOf = async (sourceTopic: string, key: string): Promise<ReadMessage> => {
    const match = (m: ReadMessage) => m.topic === `${sourceTopic}.dlq` && m.key === key;
    await deadLetters.until((messages) => messages.some(match), 15_000);
    return deadLetters.messages.find(match) as ReadMessage;
  };

  it('applies a completion once: a duplicate, a stale attempt and a repeated run.requested change nothing', async () => {
    const path = '/retry-then-hang/1';
    const workflowId = await createWorkflow(api, {
      nodes: {
        a: fn('input.x'),
        call: {
          type: 'http_request',
          config: { method: 'POST', url: `${server.origin}${path}`, body: {} },
          retry: { maxAttempts: 3, backoffMs: 50 },
        },
      },
      edges: [{ from: 'a', to: 'call' }],
    });
    const runId = await startRun(api, workflowId, { x: 4 });
    // a succeeded (attempt 1), call failed its attempt 1 (503) and its attempt 2 hangs in the worker.
    await waitForRun(api, runId, (r) => r.nodes.call?.attempts === 2 && r.nodes.call.status === 'running');
    await eventually(
      () => Promise.resolve(server.requests.filter((r) => r.path === path).length === 2 ? true : undefined),
      'the second attempt at the server',
    );
    await outboxDrained();
    const before = await snapshot(runId);
    const workspaceId = await workspaceOf(runId);

    const sent = await sendCompletions([
      // Applied already (with another output: applying it again would show).
      completion(workspaceId, runId, 'a', 1, { status: 'succeeded', outputJson: '999' }),
      completion(workspaceId, runId, 'call', 1, { status: 'failed', error: 'HTTP 503' }),
      // An older attempt than the one in flight, succeeding late: must not count for attempt 2.
      completion(workspaceId, runId, 'call', 1, { status: 'succeeded', outputJson: '{"late":true}' }),
      completion(workspaceId, runId, 'call', 1, { status: 'timed_out', error: 'late timeout' }),
      // A node the workflow does not have.
      completion(workspaceId, runId, 'ghost', 1, { status: 'succeeded', outputJson: '1' }),
    ]);
    const requested = topic('run.requested');
    const again = await producer.send({
      topic: requested,
      acks: -1,
      messages: [
        {
          key: runId,
          value: await codec.encode('run.requested', {
            ...envelope(1, workspaceId),
            type: 'run.requested',
            runId,
            workflowId,
            workflowVersion: 1,
            inputJson: '{"x":4}',
            inputRef: null,
            tag: null,
            permission: 'admin',
          }),
        },
      ],
    });
    await waitForCommitted(admin, coordinatorGroup, topic('node.completed'), sent);
    await waitForCommitted(admin, coordinatorGroup, requested, lastOffsets(again));
    await outboxDrained();
    assert.deepEqual(await snapshot(runId), before, 'duplicates and stale completions left the run as it was');
    assert.equal(server.requests.filter((r) => r.path === path).length, 2, 'no extra attempt was dispatched');

    // The same path does apply the completion of the attempt in flight: the messages above were really consumed.
    await sendCompletions([
      completion(workspaceId, runId, 'call', 2, { status: 'succeeded', outputJson: '{"answer":42}' }),
    ]);
    const done = await waitForRun(api, runId);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.deepEqual(done.output, { call: { answer: 42 } });
    assert.deepEqual([done.nodes.a?.output, done.nodes.a?.attempts, done.nodes.call?.attempts], [4, 1, 2]);
    await outboxDrained();
    const finished = await snapshot(runId);
    assert.equal(finished.row?.version, Number(before.row?.version) + 1, 'one write applied it');

    // ...once: the worker's own late answer for that attempt (the request it still held) and a replayed copy of the
    // applied completion, on the finished run, change nothing either.
    for (const response of held.splice(0)) response.writeHead(500).end('too late');
    const replay = await sendCompletions([
      completion(workspaceId, runId, 'call', 2, { status: 'succeeded', outputJson: '{"answer":43}' }),
    ]);
    await waitForCaughtUp(admin, ctx.group('worker-http_request'), topic('node.dispatch.http_request'));
    await waitForCommitted(admin, coordinatorGroup, topic('node.completed'), replay);
    await waitForCaughtUp(admin, coordinatorGroup, topic('node.completed'));
    await outboxDrained();
    assert.deepEqual(await snapshot(runId), finished);
    assert.deepEqual(await runEventAnomalies(pool, [runId]), []);
  });

  it('sends an undecodable task to the DLQ, fails its run with the reason, and keeps the partition flowing', async () => {
    const waiting = await createWorkflow(api, { nodes: { wait: delay }, edges: [] });
    const chain = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1') },
      edges: [{ from: 'a', to: 'b' }],
    });
    const runId = await startRun(api, waiting);
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    const dispatchTopic = topic('node.dispatch.function');
    const records = await producer.send({
      topic: dispatchTopic,
      acks: -1,
      messages: [{ key: runId, value: Buffer.from('definitely not avro') }],
    });
    const [landed] = records;
    assert.equal(landed?.partition, partitionOf(runId, config.KAFKA_PARTITIONS), 'partitionOf matches the producer');

    const letter = await deadLetterOf(dispatchTopic, runId);
    assert.match(letter.headers['dlq.error'] ?? '', /^undecodable: /);
    assert.equal(letter.headers['dlq.source.topic'], dispatchTopic);
    assert.equal(letter.headers['dlq.source.offset'], landed?.baseOffset);
    assert.equal(letter.value.toString(), 'definitely not avro', 'the DLQ keeps the original bytes');

    const failed = await waitForRun(api, runId, (r) => r.status === 'failed', 15_000);
    assert.match(
      failed.error ?? '',
      /could not be handled \(undecodable: .*\); it is in .*node\.dispatch\.function\.dlq/,
    );
    await waitForCommitted(admin, ctx.group('worker-function'), dispatchTopic, lastOffsets(records));

    // Tasks behind the poison, in its partition, still run.
    const { all } = await runsInPartition(chain, partitionOf(runId, config.KAFKA_PARTITIONS), 2);
    for (const later of all) {
      const run = await waitForRun(api, later);
      assert.equal(run.status, 'completed', JSON.stringify(run));
    }
  });

  it('fails the run of an undecodable completion (the coordinator DLQ) and keeps its partition flowing', async () => {
    const waiting = await createWorkflow(api, { nodes: { wait: delay }, edges: [] });
    const chain = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1') },
      edges: [{ from: 'a', to: 'b' }],
    });
    const runId = await startRun(api, waiting);
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    const completedTopic = topic('node.completed');
    const [landed] = await producer.send({
      topic: completedTopic,
      acks: -1,
      messages: [{ key: runId, value: Buffer.from([0, 0, 0, 0, 42, 1, 2, 3]) }],
    });

    const letter = await deadLetterOf(completedTopic, runId);
    assert.match(letter.headers['dlq.error'] ?? '', /^undecodable: /);
    const failed = await waitForRun(api, runId, (r) => r.status === 'failed', 15_000);
    assert.match(failed.error ?? '', /could not be handled \(undecodable: .*\); it is in .*node\.completed\.dlq/);
    const { rows } = await pool.query<{ kind: string; seq: string }>(
      'SELECT kind, seq FROM run_events WHERE run_id = $1 ORDER BY seq DESC LIMIT 1',
      [runId],
    );
    assert.equal(rows[0]?.kind, 'run.failed', 'the failure is in the run history too');
    assert.deepEqual(await runEventAnomalies(pool, [runId]), []);
    assert.equal(Number((await snapshot(runId)).row?.timers), 0, 'its delay timer is gone');

    const { all } = await runsInPartition(chain, landed?.partition as number, 2);
    for (const later of all) assert.equal((await waitForRun(api, later)).status, 'completed');
  });

  it('dead-letters a completion the coordinator keeps failing on, and still applies the rest of its batch', async () => {
    const waiting = await createWorkflow(api, { nodes: { wait: delay }, edges: [] });
    const approval = await createWorkflow(api, {
      nodes: { review: hitl, after: fn('nodes.review.approved') },
      edges: [{ from: 'review', to: 'after' }],
    });
    const runId = await startRun(api, waiting);
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    const partition = partitionOf(runId, config.KAFKA_PARTITIONS);
    const {
      inPartition: [neighbour],
    } = await runsInPartition(approval, partition, 1);
    await waitForRun(api, neighbour as string, (r) => r.status === 'waiting');
    const workspaceId = await workspaceOf(runId);

    // One send, one partition: the first one cannot be applied (its output is not JSON), the second can.
    await sendCompletions([
      completion(workspaceId, runId, 'wait', 1, { status: 'succeeded', outputJson: '{not json' }),
      completion(workspaceId, neighbour as string, 'review', 1, {
        status: 'succeeded',
        outputJson: '{"approved":true}',
      }),
    ]);
    const letter = await deadLetterOf(topic('node.completed'), runId);
    assert.equal(letter.headers['dlq.error'], 'handler failed 2 times');
    assert.equal(letter.headers['dlq.attempts'], '2');
    const failed = await waitForRun(api, runId, (r) => r.status === 'failed', 15_000);
    assert.match(failed.error ?? '', /handler failed 2 times\); it is in .*node\.completed\.dlq/);
    const next = await waitForRun(api, neighbour as string);
    assert.equal(next.status, 'completed', JSON.stringify(next));
    assert.deepEqual(next.output, { after: true });
  });

  it('retries a transient database failure (serialization_failure) instead of dead-lettering the run', async () => {
    const workflowId = await createWorkflow(api, {
      nodes: { review: hitl, after: fn('nodes.review.approved') },
      edges: [{ from: 'review', to: 'after' }],
    });
    const runId = await startRun(api, workflowId);
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    // For 1.5 s the coordinator's writes of this run fail as Postgres fails a serializable transaction (40001,
    // worth retrying); the dead-letter path's write would get through, as it does once a short blip is over.
    await pool.query(`
        CREATE TABLE test_flaky_runs (run_id uuid PRIMARY KEY, until timestamptz NOT NULL);
        CREATE FUNCTION test_flaky_runs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.status <> 'failed'
             AND EXISTS (SELECT 1 FROM test_flaky_runs WHERE run_id = NEW.id AND until > clock_timestamp()) THEN
            RAISE EXCEPTION 'simulated serialization failure' USING ERRCODE = 'serialization_failure';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER test_flaky_runs BEFORE UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION test_flaky_runs();`);
    try {
      await pool.query(`INSERT INTO test_flaky_runs VALUES ($1, clock_timestamp() + interval '1500 milliseconds')`, [
        runId,
      ]);
      const decided = await api.request('POST', `/v1/runs/${runId}/nodes/review/approval`, {
        body: { approved: true },
      });
      assert.equal(decided.status, 202);
      const run = await waitForRun(api, runId, undefined, 15_000);
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.equal(
        deadLetters.messages.filter((m) => m.key === runId).length,
        0,
        'nothing of this run went to dead letters',
      );
    } finally {
      await pool.query(
        'DROP TRIGGER test_flaky_runs ON runs; DROP FUNCTION test_flaky_runs(); DROP TABLE test_flaky_runs',
      );
    }
  });

  it('leaves no node of a dead-lettered run active and no approval of it open', async () => {
    const approval = await createWorkflow(api, { nodes: { review: hitl }, edges: [] });
    const runId = await startRun(api, approval);
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    await producer.send({
      topic: topic('node.completed'),
      acks: -1,
      messages: [{ key: runId, value: Buffer.from('garbage') }],
    });
    const failed = await waitForRun(api, runId, (r) => r.status === 'failed', 15_000);
    const late = await api.request('POST', `/v1/runs/${runId}/nodes/review/approval`, { body: { approved: true } });
    // As a run failed by the machine ends (finish(): active nodes cancelled, approvals expired).
    assert.deepEqual(
      { node: failed.nodes.review?.status, lateApproval: late.status },
      { node: 'cancelled', lateApproval: 409 },
      JSON.stringify(failed),
    );
    assert.equal((await readRun(api, runId)).status, 'failed');
  });

  // Last: when it fails, the worker's http_request consumer is gone for the rest of the file.
  it('keeps taking tasks after one that outlasted the consumer session timeout, which runs once', async () => {
    const slow = await createWorkflow(api, {
      nodes: { call: { type: 'http_request', config: { method: 'GET', url: `${server.origin}/slow/1` } } },
      edges: [],
    });
    const quick = await createWorkflow(api, {
      nodes: { call: { type: 'http_request', config: { method: 'GET', url: `${server.origin}/ok/1` } } },
      edges: [],
    });
    const run = await waitForRun(api, await startRun(api, slow), undefined, SLOW_MS + 10_000);
    assert.equal(run.status, 'completed', JSON.stringify(run));
    const next = await startRun(api, quick);
    const nextStatus = await waitForRun(api, next, undefined, 10_000).then(
      (r) => r.status,
      async () => `still ${(await readRun(api, next)).status} after 10 s`,
    );
    const committed = await waitForCaughtUp(
      admin,
      ctx.group('worker-http_request'),
      topic('node.dispatch.http_request'),
      3_000,
    ).then(
      () => true,
      () => false,
    );
    assert.deepEqual(
      {
        slowRequests: server.requests.filter((r) => r.path === '/slow/1').length,
        nextRun: nextStatus,
        workerCommittedBoth: committed,
      },
      { slowRequests: 1, nextRun: 'completed', workerCommittedBoth: true },
    );
  });
});
