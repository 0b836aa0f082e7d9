import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { createPool, type Pool } from '#libs/db';
import { createKafka, openConsumer, openProducer } from '#libs/kafka';
import { createTopics, eventually, SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { materializerRole } from './materializer.role.js';

const ctx = useTestContext('materializer');

type PatchStatus = { status: 'pending' | 'applied' | 'rejected'; version?: number; reason?: string; seq: number };
const fnNode = (expression = '1') => ({ type: 'function', config: { expression } });

describe('patches become versions: API -> outbox -> relay -> Kafka -> materializer (invariants 2, 5, 6)', () => {
  let api: TestApp;
  let pool: Pool;

  const createWorkflow = async () =>
    (await api.request<{ id: string }>('POST', '/v1/workflows', { body: { name: 'm', definition: SAMPLE_DEFINITION } }))
      .body.id;
  const post = async (workflowId: string, ops: unknown[]) => {
    const reply = await api.request<{ patchId: string; seq: number }>('POST', `/v1/workflows/${workflowId}/patches`, {
      body: { ops },
    });
    assert.equal(reply.status, 202, JSON.stringify(reply.body));
    return reply.body;
  };
  const decided = (workflowId: string, patchId: string) =>
    eventually(async () => {
      const reply = await api.request<PatchStatus>('GET', `/v1/workflows/${workflowId}/patches/${patchId}`);
      return reply.body.status === 'pending' ? undefined : reply.body;
    }, `patch ${patchId} decided`);

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole, materializerRole]);
    pool = createPool(ctx.databaseUrl, { name: 'materializer-test' });
    ctx.defer(() => pool.end());
  });

  it('applies a patch into version 2', async () => {
    const id = await createWorkflow();
    const patch = await post(id, [
      { op: 'add', path: '/nodes/c', value: fnNode() },
      { op: 'add', path: '/edges/-', value: { from: 'b', to: 'c' } },
    ]);
    const status = await decided(id, patch.patchId);
    assert.deepEqual({ status: status.status, version: status.version }, { status: 'applied', version: 2 });
    const latest = await api.request<{
      version: number;
      appliedThroughSeq: number;
      definition: { nodes: Record<string, unknown> };
    }>('GET', `/v1/workflows/${id}`);
    assert.equal(latest.body.version, 2);
    assert.equal(latest.body.appliedThroughSeq, patch.seq);
    assert.ok(latest.body.definition.nodes.c);
    assert.equal((await api.request('GET', `/v1/workflows/${id}/versions/1`)).status, 200);
  });

  it('rejects a failed test op and an invalid result with reasons, and later patches still apply in order', async () => {
    const id = await createWorkflow();
    const failedTest = await post(id, [
      { op: 'test', path: '/nodes/a/type', value: 'http_request' },
      { op: 'remove', path: '/nodes/b' },
    ]);
    const cycle = await post(id, [{ op: 'add', path: '/edges/-', value: { from: 'b', to: 'a' } }]);
    const unknownType = await post(id, [{ op: 'add', path: '/nodes/x', value: { type: 'teleport', config: {} } }]);
    const good = await post(id, [{ op: 'add', path: '/nodes/d', value: fnNode() }]);
    const goodStatus = await decided(id, good.patchId);
    assert.equal(goodStatus.status, 'applied');
    const testStatus = await decided(id, failedTest.patchId);
    assert.equal(testStatus.status, 'rejected');
    assert.match(testStatus.reason ?? '', /ops\[0\].*test/i);
    assert.match((await decided(id, cycle.patchId)).reason ?? '', /cycle/);
    assert.match((await decided(id, unknownType.patchId)).reason ?? '', /teleport/);
    const latest = await api.request<{ definition: { nodes: Record<string, unknown> } }>('GET', `/v1/workflows/${id}`);
    assert.deepEqual(
      Object.keys(latest.body.definition.nodes).sort(),
      ['a', 'b', 'd'],
      'only the good patch changed the definition',
    );
  });

  it('folds at most 100 patches per version and decides every one exactly once, in sequence order', async () => {
    const id = await createWorkflow();
    const patches = [];
    for (let i = 0; i < 250; i++) patches.push(await post(id, [{ op: 'add', path: `/nodes/p${i}`, value: fnNode() }]));
    const last = await decided(id, (patches.at(-1) as { patchId: string }).patchId);
    assert.equal(last.status, 'applied');
    const rows = (
      await pool.query<{ seq: string; status: string; version: number }>(
        'SELECT seq, status, version FROM patches WHERE workflow_id = $1 ORDER BY seq',
        [id],
      )
    ).rows;
    assert.equal(rows.length, 250);
    assert.ok(rows.every((r) => r.status === 'applied'));
    const versions = (
      await pool.query<{ version: number; patch_count: number }>(
        'SELECT version, patch_count FROM workflow_versions WHERE workflow_id = $1 ORDER BY version',
        [id],
      )
    ).rows;
    assert.ok(
      versions.every((v) => v.patch_count <= 100),
      JSON.stringify(versions),
    );
    assert.equal(
      versions.reduce((n, v) => n + v.patch_count, 0),
      250,
    );
    // Versions grow with sequence numbers: a later patch is never in an earlier version.
    for (let i = 1; i < rows.length; i++)
      assert.ok((rows[i] as { version: number }).version >= (rows[i - 1] as { version: number }).version);
  });

  it('survives a copy bomb: the patch is rejected with a reason, and later patches of that and other workflows apply', async () => {
    // Two http nodes whose bodies are free JSON: copying each into the other in turn grows both ~2.6 times per pair,
    // without copying anything into itself (which the API refuses up front).
    const bodies = {
      nodes: {
        h1: { type: 'http_request', config: { method: 'POST', url: 'https://example.org/1', body: { x: 'seed' } } },
        h2: { type: 'http_request', config: { method: 'POST', url: 'https://example.org/2', body: { y: 'seed' } } },
      },
      edges: [{ from: 'h1', to: 'h2' }],
    };
    const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
      body: { name: 'bomb', definition: bodies },
    });
    const id = created.body.id;
    const other = await createWorkflow();
    const pairs = 30;
    const bomb = await post(
      id,
      Array.from({ length: pairs }, (_, i) => [
        { op: 'copy', from: '/nodes/h1/config/body', path: `/nodes/h2/config/body/k${i}` },
        { op: 'copy', from: '/nodes/h2/config/body', path: `/nodes/h1/config/body/k${i}` },
      ]).flat(),
    );
    const sameAfter = await post(id, [{ op: 'replace', path: '/nodes/h1/config/url', value: 'https://example.org/3' }]);
    const otherAfter = await post(other, [{ op: 'add', path: '/nodes/after_bomb', value: fnNode() }]);

    const verdict = await decided(id, bomb.patchId);
    assert.equal(verdict.status, 'rejected');
    assert.match(
      verdict.reason ?? '',
      /^ops\[\d+\] \(copy .*\): the (definition would exceed|patch copies more than) 1048576 bytes$/,
    );
    assert.equal((await decided(id, sameAfter.patchId)).status, 'applied');
    assert.equal((await decided(other, otherAfter.patchId)).status, 'applied');
    const latest = await api.request<{ definition: typeof bodies }>('GET', `/v1/workflows/${id}`);
    assert.equal(latest.body.definition.nodes.h1.config.url, 'https://example.org/3');
    assert.deepEqual(latest.body.definition.nodes.h2.config.body, { y: 'seed' });
  });

  it('changes nothing when events are delivered again', async () => {
    const id = await createWorkflow();
    const patch = await post(id, [{ op: 'add', path: '/nodes/r', value: fnNode() }]);
    await decided(id, patch.patchId);
    const snapshot = async () =>
      (
        await pool.query<Record<string, unknown>>(
          'SELECT version, definition, applied_through_seq FROM workflow_versions WHERE workflow_id = $1 ORDER BY version',
          [id],
        )
      ).rows;
    const before = await snapshot();
    // Replay every patch.created event of the topic (as a rebalance or a relay crash would).
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    const consumer = openConsumer(kafka, { groupId: ctx.group('replay-reader') });
    const producer = openProducer(kafka, 'replayer');
    await Promise.all([consumer.connect(), producer.connect()]);
    const topic = ctx.topic('patch.created').name;
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: { key: Buffer | null; value: Buffer | null }[] = [];
    const total = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM patches')).rows[0]?.n);
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: ({ message }) => {
            seen.push({ key: message.key, value: message.value });
            if (seen.length >= total) resolve();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    await producer.send({ topic, messages: seen });
    await producer.disconnect();
    // A fresh patch after the replays: once it is applied, the replays before it have been consumed too.
    const marker = await post(id, [{ op: 'add', path: '/nodes/marker', value: fnNode() }]);
    assert.equal((await decided(id, marker.patchId)).status, 'applied');
    const after = await snapshot();
    assert.deepEqual(after.slice(0, before.length), before);
    assert.equal(after.length, before.length + 1);
  });

  it('fills a gap in the event stream from Postgres instead of skipping it', async () => {
    const id = await createWorkflow();
    const first = await post(id, [{ op: 'add', path: '/nodes/g1', value: fnNode() }]);
    await decided(id, first.patchId);
    // Seq 2 is committed but its event is lost (deleted from the outbox before the relay saw it).
    await pool.query('BEGIN');
    await pool.query('UPDATE workflow_sequences SET next_seq = next_seq + 1 WHERE workflow_id = $1', [id]);
    await pool.query(`INSERT INTO patches (id, workflow_id, seq, ops) VALUES (gen_random_uuid(), $1, 2, $2)`, [
      id,
      JSON.stringify([{ op: 'add', path: '/nodes/g2', value: fnNode() }]),
    ]);
    await pool.query('COMMIT');
    const third = await post(id, [
      { op: 'test', path: '/nodes/g2/type', value: 'function' },
      { op: 'add', path: '/nodes/g3', value: fnNode() },
    ]);
    assert.equal(third.seq, 3);
    assert.equal((await decided(id, third.patchId)).status, 'applied', 'seq 3 saw the node added by seq 2');
    const gap = await pool.query<{ status: string }>('SELECT status FROM patches WHERE workflow_id = $1 AND seq = 2', [
      id,
    ]);
    assert.equal(gap.rows[0]?.status, 'applied');
  });

  it('sends an undecodable message to patch.created.dlq and keeps consuming the partition', async () => {
    const id = await createWorkflow();
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    const producer = openProducer(kafka, 'poisoner');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    // Same key as the workflow, so the poison sits in the partition its next patch goes to.
    await producer.send({
      topic: ctx.topic('patch.created').name,
      messages: [{ key: id, value: Buffer.from('not avro at all') }],
    });
    const after = await post(id, [{ op: 'add', path: '/nodes/after', value: fnNode() }]);
    assert.equal((await decided(id, after.patchId)).status, 'applied');

    const consumer = openConsumer(kafka, { groupId: ctx.group('dlq-reader') });
    await consumer.connect();
    ctx.defer(() => consumer.disconnect());
    await consumer.subscribe({ topic: ctx.topic('patch.created.dlq').name, fromBeginning: true });
    const letter = await new Promise<{ key: string; value: string; error: string }>((resolve, reject) => {
      consumer
        .run({
          eachMessage: ({ message }) => {
            resolve({
              key: String(message.key),
              value: String(message.value),
              error: String(message.headers?.['dlq.error']),
            });
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
    assert.deepEqual({ key: letter.key, value: letter.value }, { key: id, value: 'not avro at all' });
    assert.match(letter.error, /undecodable/);
  });
});
