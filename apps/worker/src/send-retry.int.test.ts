import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import type { EventCodec, NodeDispatch } from '#libs/events';
import { createKafka, openAdmin, openProducer, type Producer } from '#libs/kafka';
import { EVENT_CODEC } from '#libs/platform';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { readTopics } from '#test/support/topic-reader.js';
import { workerRole } from './worker.role.js';
import { WorkerService } from './worker.service.js';

const ctx = useTestContext('worker-send-retry');

/** A stand-in for an external service: counts calls per idempotency key (run:node:attempt). */
async function startCountingService() {
  const calls = new Map<string, number>();
  const server = createServer((request: IncomingMessage, response) => {
    const key = String(request.headers['idempotency-key']);
    calls.set(key, (calls.get(key) ?? 0) + 1);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ key }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { calls, url: `http://127.0.0.1:${port}/call`, close: () => new Promise((r) => server.close(r)) };
}

describe('a worker whose completion send fails transiently', () => {
  let app: TestApp;
  let service: Awaited<ReturnType<typeof startCountingService>>;

  before(async () => {
    await createTopics(ctx);
    service = await startCountingService();
    ctx.defer(() => service.close());
    app = await startRoles(ctx, [workerRole], {
      ...ctx.config,
      WORKER_TYPES: ['http_request'],
      SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
      // The failed send is logged as a warning by the transport: expected here.
      LOG_LEVEL: 'error',
    });
  });

  it('executes each task once and publishes each completion once: only the send is retried', async () => {
    const worker = app.app.get(WorkerService);
    // The worker's own producer: its first send fails as a lost broker connection does (kafkajs marks it retriable).
    const producer = (worker as unknown as { producer: Producer }).producer;
    const send = producer.send.bind(producer);
    let failures = 0;
    producer.send = async (record) => {
      if (failures++ === 0) throw Object.assign(new Error('Connection error: socket hang up'), { retriable: true });
      return send(record);
    };

    const codec = app.app.get<EventCodec>(EVENT_CODEC);
    const runId = randomUUID();
    const tasks: NodeDispatch[] = Array.from({ length: 8 }, (_, i) => ({
      eventId: randomUUID(),
      type: 'node.dispatch',
      seq: i + 1,
      occurredAt: Date.now(),
      workspaceId: randomUUID(),
      runId,
      nodeId: `n${i}`,
      nodeType: 'http_request',
      attempt: 1,
      configJson: JSON.stringify({ method: 'GET', url: service.url }),
      inputJson: JSON.stringify({ input: null, nodes: {} }),
      deadlineAt: null,
      workflowId: null,
      fromType: 'start',
      triggeredAt: null,
      inputRef: null,
      configRef: null,
      permission: null,
      cache: null,
    }));
    // The topics are minutes old at most: kafkajs logs the broker's first "does not host this topic-partition" answers.
    const quiet = ctx.logger.child({}, { level: 'fatal' });
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: quiet });
    const reader = await readTopics(kafka, [codec.names.of('node.completed')], ctx.group('completions'));
    ctx.defer(() => reader.stop());
    const taskProducer = openProducer(kafka, 'tasks');
    await taskProducer.connect();
    ctx.defer(() => taskProducer.disconnect());
    // One send, one key: one partition, so the worker fetches the tasks together and their completions share a send.
    await taskProducer.send({
      topic: codec.names.of('node.dispatch.http_request'),
      messages: await Promise.all(tasks.map((t) => codec.message('node.dispatch.http_request', runId, t))),
    });

    // Done when the worker committed past every task (it commits only after its send succeeded) ...
    const admin = openAdmin(kafka, 'offsets');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    const dispatchTopic = codec.names.of('node.dispatch.http_request');
    const completedTopic = codec.names.of('node.completed');
    const total = (offsets: { offset: string }[]) => offsets.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    await eventually(async () => {
      const [committed] = await admin.fetchOffsets({
        groupId: `${ctx.topicPrefix}worker-http_request`,
        topics: [dispatchTopic],
      });
      return committed && total(committed.partitions) === tasks.length ? true : undefined;
    }, 'the worker to commit every task');
    // ... and the reader has read node.completed up to its end: nothing more can arrive.
    const end = total(await admin.fetchTopicOffsets(completedTopic).then((ps) => ps.map((p) => ({ offset: p.high }))));
    await reader.until((messages) => messages.length >= end, 10_000);

    assert.ok(failures >= 2, 'the first send failed and a later one went through');
    const completions = await Promise.all(reader.messages.map((m) => codec.decodeAs('node.completed', m.value)));
    const published = completions.map((c) => `${c.runId}:${c.nodeId}:${c.attempt}`).sort();
    const expected = tasks.map((t) => `${t.runId}:${t.nodeId}:${t.attempt}`).sort();
    assert.deepEqual(published, expected, 'each completion published exactly once');
    assert.ok(
      completions.every((c) => c.status === 'succeeded'),
      JSON.stringify(completions),
    );
    assert.deepEqual(
      [...service.calls].sort(([a], [b]) => a.localeCompare(b)),
      expected.map((key) => [key, 1]),
      'each task executed exactly once',
    );
  });
});
