import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ApiKeysRepository } from '#libs/auth';
import { createPool, inTransaction, type Pool } from '#libs/db';
import { createKafka, IDEMPOTENT_PRODUCER, openAdmin, openProducer, type Producer } from '#libs/kafka';
import { deadLetterCounts, sendToDeadLetters } from '#libs/messaging';
import { insertOutboxRows } from '#libs/outbox';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles, type TestApp } from '#test/support/app.js';
import { readTopics } from '#test/support/topic-reader.js';
import { apiRole } from '../api.role.js';

const ctx = useTestContext('api-operator');

interface DeadLetterTopic {
  topic: string;
  messages: number;
  notRedriven: number;
}
interface Redriven {
  topic: string;
  dryRun: boolean;
  redriven: { partition: number; offset: number; to: string; key: string | null }[];
}

describe('operator routes: consumer lag, the outbox and dead letters, for operators only', () => {
  let api: TestApp;
  let pool: Pool;
  let producer: Producer;
  const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
  const keys: Record<'read' | 'otherAdmin' | 'otherOperator', string> = { read: '', otherAdmin: '', otherOperator: '' };

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole]);
    pool = createPool(ctx.databaseUrl, { name: 'operator-test' });
    ctx.defer(() => pool.end());
    const repository = new ApiKeysRepository(pool);
    // The bootstrap workspace (ADMIN_KEY's) is the operators'; these are a tenant's admin and a second operators' one.
    const read = await api.request<{ key: string }>('POST', '/v1/api-keys', { body: { permission: 'read' } });
    keys.read = read.body.key;
    keys.otherAdmin = (await repository.create(await repository.createWorkspace('tenant'), 'admin')).key;
    keys.otherOperator = (
      await repository.create(await repository.createWorkspace('platform team', { operator: true }), 'admin')
    ).key;
    producer = openProducer(kafka, 'operator-test', IDEMPOTENT_PRODUCER);
    await producer.connect();
    ctx.defer(() => producer.disconnect());
  });

  /** A poison message of run-1 (one key: one partition, so the two are read in the order they were sent). */
  const poison = async (error: string, value: string) => {
    await sendToDeadLetters(producer, [
      {
        sourceTopic: ctx.topic('run.requested').name,
        partition: 0,
        error,
        attempts: 3,
        message: {
          key: Buffer.from('run-1'),
          value: Buffer.from(value),
          headers: { traceparent: Buffer.from('00-abc-def-01') },
          offset: '7',
          timestamp: String(Date.now()),
          attributes: 0,
        },
      },
    ]);
  };

  it('refuses every operator route to a read key and to an admin of a tenant workspace, with 403', async () => {
    const routes: ['GET' | 'POST', string][] = [
      ['GET', '/v1/operator/consumer-lag'],
      ['GET', '/v1/operator/outbox'],
      ['GET', '/v1/operator/dead-letter-topics'],
      ['GET', '/v1/operator/dead-letter-topics/run.requested.dlq/messages'],
      ['POST', '/v1/operator/dead-letter-topics/run.requested.dlq/redrive'],
    ];
    for (const [method, path] of routes) {
      for (const key of [keys.read, keys.otherAdmin]) {
        const reply = await api.request<{ type: string; detail: string }>(method, path, { key, body: {} });
        assert.equal(reply.status, 403, `${method} ${path}: ${JSON.stringify(reply.body)}`);
        assert.match(reply.body.detail, /operators' workspace/);
      }
      assert.equal((await api.request(method, path, { key: null })).status, 401);
    }
    const allowed = await api.request('GET', '/v1/operator/outbox', { key: keys.otherOperator });
    assert.equal(allowed.status, 200, 'an admin of another operators’ workspace');
  });

  it('reports a consumer group’s lag per topic and partition, and only this deployment’s groups', async () => {
    const group = ctx.group('operator-lag');
    const topic = ctx.topic('run.events').name;
    const admin = openAdmin(kafka, 'operator-test');
    await admin.connect();
    try {
      // The group has consumed up to offset 1 of partition 0; then five more messages arrive there.
      await producer.send({ topic, messages: [{ key: 'k', value: 'v', partition: 0 }] });
      await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '1' }] });
      await producer.send({
        topic,
        messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: 'v', partition: 0 })),
      });
    } finally {
      await admin.disconnect();
    }
    const reply = await api.request<{
      groups: {
        group: string;
        state: string;
        lag: number;
        topics: { topic: string; lag: number; partitions: { partition: number; lag: number }[] }[];
      }[];
    }>('GET', `/v1/operator/consumer-lag?group=${encodeURIComponent(group)}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.groups.length, 1);
    const [lag] = reply.body.groups;
    assert.equal(lag?.group, group);
    assert.equal(lag?.lag, 5);
    assert.deepEqual(
      lag?.topics.map((t) => [t.topic, t.lag, t.partitions.find((p) => p.partition === 0)?.lag]),
      [[topic, 5, 5]],
    );
    const all = await api.request<{ groups: { group: string }[] }>('GET', '/v1/operator/consumer-lag');
    assert.ok(all.body.groups.some((g) => g.group === group));
    assert.ok(
      all.body.groups.every((g) => g.group.startsWith(ctx.topicPrefix)),
      'another deployment’s groups shown',
    );
  });

  it('reports the outbox backlog per topic with its oldest age', async () => {
    const topic = ctx.topic('run.requested').name;
    // Rows held back for a minute, as a relay that is down would leave them.
    await inTransaction(pool, (client) =>
      insertOutboxRows(
        client,
        ['a', 'b', 'c'].map((key) => ({ topic, key, eventType: 'test', payload: Buffer.from('x') })),
        { publishAfterMs: 60_000 },
      ),
    );
    await pool.query("UPDATE outbox SET created_at = now() - interval '30 seconds' WHERE topic = $1", [topic]);
    const reply = await api.request<{
      rows: number;
      oldestAgeSeconds: number;
      topics: { topic: string; rows: number; oldestAgeSeconds: number }[];
      deadRows: number;
    }>('GET', '/v1/operator/outbox');
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const row = reply.body.topics.find((t) => t.topic === topic);
    assert.equal(row?.rows, 3);
    assert.ok(row.oldestAgeSeconds >= 30 && row.oldestAgeSeconds < 120, String(row.oldestAgeSeconds));
    assert.ok(reply.body.rows >= 3);
    assert.equal(reply.body.deadRows, 0);
    await pool.query('DELETE FROM outbox WHERE topic = $1', [topic]);
  });

  it('lists, shows and redrives dead letters, each once (on the redrive group the CLI uses too)', async () => {
    const dlq = `${ctx.topic('run.requested').name}.dlq`;
    await poison('poison one', 'not avro 1');
    await poison('poison two', 'not avro 2');

    const listed = await api.request<{ topics: DeadLetterTopic[] }>('GET', '/v1/operator/dead-letter-topics');
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.topics.find((t) => t.topic === dlq),
      { topic: dlq, messages: 2, notRedriven: 2 },
    );
    assert.ok(listed.body.topics.every((t) => t.topic.startsWith(ctx.topicPrefix) && t.topic.endsWith('.dlq')));

    const shown = await api.request<{
      messages: { key: string; dlq: Record<string, string>; headers: Record<string, string>; error?: string }[];
    }>('GET', '/v1/operator/dead-letter-topics/run.requested.dlq/messages?max=1');
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal(shown.body.messages.length, 1, 'max=1');
    const [first] = shown.body.messages;
    assert.equal(first?.dlq['dlq.error'], 'poison one');
    assert.equal(first.dlq['dlq.attempts'], '3');
    assert.equal(first.headers.traceparent, '00-abc-def-01');
    assert.match(first.error ?? '', /cannot decode/, 'a value that is not Avro is shown as such, not a 500');

    const path = `/v1/operator/dead-letter-topics/${encodeURIComponent(dlq)}/redrive`;
    const dry = await api.request<Redriven>('POST', path, { body: { dryRun: true } });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual(
      dry.body.redriven.map((r) => [r.key, r.offset]),
      [
        ['run-1', 0],
        ['run-1', 1],
      ],
    );
    const admin = openAdmin(kafka, 'operator-counts');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    assert.equal((await deadLetterCounts(admin, dlq, ctx.topicPrefix)).notRedriven, 2, 'a dry run commits nothing');

    const reader = await readTopics(kafka, [ctx.topic('run.requested').name], ctx.group('operator-redriven'));
    ctx.defer(() => reader.stop());
    const one = await api.request<Redriven>('POST', path, { body: { max: 1 } });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.deepEqual(
      one.body.redriven.map((r) => [r.offset, r.to]),
      [[0, ctx.topic('run.requested').name]],
    );
    const rest = await api.request<Redriven>('POST', path);
    assert.deepEqual(
      rest.body.redriven.map((r) => r.offset),
      [1],
      'the second redrive starts after the first',
    );
    assert.deepEqual((await api.request<Redriven>('POST', path)).body.redriven, [], 'nothing is redriven twice');
    assert.deepEqual(await deadLetterCounts(admin, dlq, ctx.topicPrefix), { topic: dlq, messages: 2, notRedriven: 0 });

    await reader.until((messages) => messages.length >= 2, 15_000);
    assert.deepEqual(
      reader.messages.map((m) => [m.key, m.value.toString(), m.headers.traceparent, Object.keys(m.headers).sort()]),
      [
        ['run-1', 'not avro 1', '00-abc-def-01', ['traceparent']],
        ['run-1', 'not avro 2', '00-abc-def-01', ['traceparent']],
      ],
      'original key, value and headers, without dlq.*',
    );
  });

  it('answers a topic that is not a dead-letter topic with 404, and bad limits with 400 or 422', async () => {
    for (const path of [
      '/v1/operator/dead-letter-topics/nope.dlq/messages',
      '/v1/operator/dead-letter-topics/run.requested/messages',
    ]) {
      const reply = await api.request<{ status: number }>('GET', path);
      assert.equal(reply.status, 404, `${path}: ${JSON.stringify(reply.body)}`);
    }
    assert.equal(
      (await api.request('GET', '/v1/operator/dead-letter-topics/run.requested.dlq/messages?max=0')).status,
      400,
    );
    const badBody = await api.request('POST', '/v1/operator/dead-letter-topics/run.requested.dlq/redrive', {
      body: { max: -1 },
    });
    assert.equal(badBody.status, 422, JSON.stringify(badBody.body));
  });
});
