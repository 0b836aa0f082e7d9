import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { startTestHttpServer } from '#apps/worker/src/http/test-http-server.js';
import { createSchemaRegistry, EventCodec, readSchemaFiles, runControlEvent, TopicNames } from '#libs/events';
import { createKafka, openProducer } from '#libs/kafka';
import { KafkaBatchServer, type DeadLetter, type DecodedMessage, type EventBatch } from '#libs/messaging';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually } from '#test/support/app.js';

const ctx = useTestContext('registry-outage');

/**
 * DESIGN §3 invariant 6 is about poison, and a registry that does not answer makes no message poison: a consumer that
 * has not seen a writer schema yet waits for the registry instead of dead-lettering everything it reads meanwhile.
 */
describe('a consumer whose registry is down', () => {
  it('holds the message until the registry answers, then handles it; nothing goes to the DLQ', async () => {
    await createTopics(ctx);
    const names = new TopicNames(ctx.topicPrefix);
    const schemas = await readSchemaFiles();
    const writer = new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, schemas);
    await writer.registerAll();

    // The consumer's registry: the real one behind a switch; while "down" every connection is cut unanswered.
    let down = true;
    const proxy = await startTestHttpServer((request, response) => {
      if (down) {
        response.socket?.destroy();
        return;
      }
      void fetch(`${ctx.config.SCHEMA_REGISTRY_URL}${request.path}`, { headers: { accept: 'application/json' } }).then(
        async (upstream) => {
          response.writeHead(upstream.status, { 'content-type': 'application/json' });
          response.end(Buffer.from(await upstream.arrayBuffer()));
        },
      );
    });
    ctx.defer(() => proxy.close());
    // A fresh codec: no schema cached, so decoding needs the registry.
    const reader = new EventCodec(createSchemaRegistry(`${proxy.origin}`, 2_000), names, schemas);

    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    const received: DecodedMessage[] = [];
    const letters: DeadLetter[] = [];
    const server = new KafkaBatchServer({
      kafka,
      codec: reader,
      // The retries are expected here; their warnings would only be noise.
      logger: ctx.logger.child({}, { level: 'silent' }),
      groupId: ctx.group('registry-outage'),
      topics: ['run.control'],
      maxWaitTimeInMs: 100,
      maxAttempts: 2,
      retryBackoffMs: 50,
      onDeadLetters: (dead) => {
        letters.push(...dead);
        return Promise.resolve();
      },
    });
    server.addHandler(
      'run.control',
      (batch: EventBatch) => {
        received.push(...batch.messages);
        return Promise.resolve();
      },
      true,
    );
    let listenError: unknown;
    await server.listen((error) => {
      listenError = error;
    });
    ctx.defer(() => server.close());
    assert.equal(listenError, undefined, 'the consumer started');

    const producer = openProducer(kafka, 'registry-outage');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    const runId = randomUUID();
    const event = runControlEvent({ workspaceId: randomUUID(), runId, kind: 'cancel' });
    await producer.send({
      topic: names.of('run.control'),
      messages: [await writer.message('run.control', runId, event)],
    });

    // The client tries each lookup 4 times; asking past that means the decode failed and was tried again.
    await eventually(
      () => Promise.resolve(proxy.requests.length >= 12 ? true : undefined),
      'the reader asking the registry again after its client gave up',
    );
    assert.deepEqual(letters, [], 'nothing dead-lettered while the registry is down');
    assert.equal(received.length, 0, 'nothing handled while the registry is down');

    down = false;
    await eventually(
      () => Promise.resolve(received.length ? true : undefined),
      'the message handled once the registry is back',
    );
    assert.equal(received[0]?.key, runId);
    assert.deepEqual(letters, []);
  });
});
