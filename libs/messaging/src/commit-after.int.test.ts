import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { createSchemaRegistry, EventCodec, readSchemaFiles, TopicNames } from '#libs/events';
import { createKafka, openAdmin, openProducer, type Admin, type Kafka, type Producer } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually } from '#test/support/app.js';
import { CommitAfter, type EventBatch } from './decoded-batch.js';
import { KafkaBatchServer } from './kafka-batch-server.js';
import { listening, patchCreated } from './transport.test-support.js';

/**
 * A handler that returns before its writes are durable (CommitAfter): the transport hands it the next batches
 * meanwhile, commits a batch's offset only once it and every earlier batch of the partition are durable, and reads the
 * partition again from the earliest batch not durable when one's writes fail.
 */
const ctx = useTestContext('commit-after');

interface Handled {
  readonly offset: string;
  durable(): void;
  failed(): void;
}

describe('a batch handler whose writes become durable later', () => {
  const names = new TopicNames(ctx.topicPrefix);
  const topic = names.of('patch.created');
  let codec: EventCodec;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;

  before(async () => {
    await createTopics(ctx);
    codec = new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, await readSchemaFiles());
    await codec.registerAll();
    kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    admin = openAdmin(kafka, 'commit-after');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    producer = openProducer(kafka, 'commit-after');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
  });

  const send = async (): Promise<void> => {
    const event = patchCreated();
    await producer.send({
      topic,
      messages: [{ ...(await codec.message('patch.created', event.workflowId, event)), partition: 0 }],
    });
  };

  const committed = async (groupId: string) =>
    Number(
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions.find((p) => p.partition === 0)?.offset,
    );

  it('fetches on while a write is under way, commits in order once durable, and re-reads from a failed write', async () => {
    const start = Number((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)?.high);
    const groupId = ctx.group('commit-after');
    const handled: Handled[] = [];
    const server = new KafkaBatchServer({
      kafka,
      codec,
      // The failed write is on purpose: its warning would only be noise here.
      logger: process.env.TEST_LOG_LEVEL ? ctx.logger : ctx.logger.child({}, { level: 'error' }),
      groupId,
      topics: ['patch.created'],
      maxWaitTimeInMs: 20,
      maxAttempts: 2,
      commitIntervalMs: 0,
    });
    server.addHandler(
      'patch.created',
      (batch: EventBatch<'patch.created'>) => {
        const durable = new Promise<void>((resolve, reject) => {
          for (const message of batch.messages) {
            handled.push({ offset: message.offset, durable: resolve, failed: () => reject(new Error('write failed')) });
          }
        });
        return Promise.resolve(new CommitAfter(durable));
      },
      true,
    );
    await listening(server);
    ctx.defer(() => server.close());
    const offsetsHandled = () => handled.map((h) => Number(h.offset)).filter((o) => o >= start);
    const seen = (n: number, what: string) =>
      eventually(() => Promise.resolve(offsetsHandled().length >= n ? true : undefined), what);

    await send();
    await seen(1, 'the first message handled');
    await send();
    await seen(2, 'the second message handled while the first write is under way');
    const [first, second] = handled.filter((h) => Number(h.offset) >= start) as [Handled, Handled];
    second.durable();
    await sleep(300);
    assert.ok(!((await committed(groupId)) > start), 'nothing committed past a batch whose write is under way');

    first.failed();
    await seen(4, 'the partition read again from the failed batch, the batch after it too');
    assert.deepEqual(offsetsHandled(), [start, start + 1, start, start + 1]);
    for (const h of handled.slice(-2)) h.durable();
    await eventually(
      async () => ((await committed(groupId)) === start + 2 ? true : undefined),
      'the offsets committed once the writes read again are durable',
    );
  });
});
