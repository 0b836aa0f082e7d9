import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createSchemaRegistry, EventCodec, readSchemaFiles, TopicNames, type PatchCreated } from '#libs/events';
import { createKafka, openAdmin, openProducer } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually } from '#test/support/app.js';
import type { EventBatch } from './decoded-batch.js';
import { KafkaBatchServer } from './kafka-batch-server.js';
import { listening, patchCreated } from './transport.test-support.js';

const ctx = useTestContext('registry-outage');

/**
 * A registry in front of the real one that, while `hanging`, takes requests and never answers (a registry stuck in a
 * long GC pause or behind a black-holed route); afterwards it passes requests through.
 */
async function startHangingRegistry(target: string) {
  const origin = new URL(target).origin;
  const held: ServerResponse[] = [];
  const state = { hanging: true, requests: 0 };
  const server = createServer((request, response) => {
    state.requests++;
    if (state.hanging) {
      held.push(response);
      return;
    }
    void fetch(`${origin}${request.url}`, { method: request.method }).then(async (answer) => {
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      response.end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    state,
    url: `http://127.0.0.1:${port}${new URL(target).pathname}`,
    close: () => {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a consumer whose registry times out while decoding', () => {
  it('retries the decode instead of dead-lettering, and handles the message once the registry answers', async () => {
    await createTopics(ctx);
    const names = new TopicNames(ctx.topicPrefix);
    const schemas = await readSchemaFiles();
    const writer = new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, schemas);
    await writer.registerAll();

    const registry = await startHangingRegistry(ctx.config.SCHEMA_REGISTRY_URL);
    ctx.defer(() => registry.close());
    // A reader of its own: the writer's schema id is not in its cache, so decoding has to ask the registry.
    const reader = new EventCodec(createSchemaRegistry(registry.url, 200), names, schemas);
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    const handled: PatchCreated[] = [];
    const server = new KafkaBatchServer({
      kafka,
      codec: reader,
      // Each timed-out try is logged as a warning: expected here.
      logger: ctx.logger.child({}, { level: 'error' }),
      groupId: ctx.group('patches'),
      topics: ['patch.created'],
      maxWaitTimeInMs: 50,
      maxAttempts: 2,
      retryBackoffMs: 10,
    });
    server.addHandler(
      'patch.created',
      async (batch: EventBatch<'patch.created'>) => {
        handled.push(...batch.messages.map((m) => m.value));
        await Promise.resolve();
      },
      true,
    );
    await listening(server);
    ctx.defer(() => server.close());

    const event = patchCreated();
    const producer = openProducer(kafka, 'patches');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    await producer.send({
      topic: names.of('patch.created'),
      messages: [await writer.message('patch.created', event.workflowId, event)],
    });

    const admin = openAdmin(kafka, 'dlq-offsets');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    const deadLetters = async () =>
      (await admin.fetchTopicOffsets(`${names.of('patch.created')}.dlq`)).reduce((n, p) => n + Number(p.high), 0);
    // Several requests timed out (the client's own retries and ours), or the message was dead-lettered ...
    await eventually(
      async () => ((await deadLetters()) > 0 || registry.state.requests >= 6 ? true : undefined),
      'the registry to be asked again',
    );
    assert.equal(await deadLetters(), 0, 'a registry timeout is not the message’s fault');
    assert.equal(handled.length, 0);

    // ... and once the registry answers, the message is decoded and handled, not lost.
    registry.state.hanging = false;
    await eventually(() => Promise.resolve(handled.length ? true : undefined), 'the message to be handled');
    assert.deepEqual(
      handled.map((h) => ({ ...h })),
      [event],
    );
    assert.equal(await deadLetters(), 0);
  });
});
