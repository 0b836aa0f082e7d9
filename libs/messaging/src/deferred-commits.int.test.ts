import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { createSchemaRegistry, EventCodec, readSchemaFiles, TopicNames } from '#libs/events';
import { createKafka, openAdmin, openProducer, type Admin, type Consumer, type Kafka } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually } from '#test/support/app.js';
import type { EventBatch } from './decoded-batch.js';
import { KafkaBatchServer } from './kafka-batch-server.js';
import { listening, patchCreated } from './transport.test-support.js';

/**
 * CONSUMER_COMMIT_INTERVAL_MS: handled batches' offsets wait up to the interval and leave in one OffsetCommit, and
 * they do leave without any later batch (a quiet consumer's lag still reaches zero). With 0, every batch commits.
 */
const ctx = useTestContext('deferred-commits');
const BATCHES = 6;

describe('offset commits of the batch transport', () => {
  const names = new TopicNames(ctx.topicPrefix);
  let codec: EventCodec;
  let kafka: Kafka;
  let admin: Admin;

  before(async () => {
    await createTopics(ctx);
    codec = new EventCodec(createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL), names, await readSchemaFiles());
    await codec.registerAll();
    kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    admin = openAdmin(kafka, 'deferred-commits');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
  });

  /**
   * Starts a consumer group (which first reads what earlier tests sent), then sends BATCHES messages to one partition,
   * each once the last was handled.
   */
  async function consume(commitIntervalMs: number) {
    const groupId = ctx.group(`commits-${commitIntervalMs}`);
    let handled = 0;
    const server = new KafkaBatchServer({
      kafka,
      codec,
      logger: ctx.logger,
      groupId,
      topics: ['patch.created'],
      maxWaitTimeInMs: 20,
      maxAttempts: 2,
      commitIntervalMs,
    });
    server.addHandler(
      'patch.created',
      async (batch: EventBatch<'patch.created'>) => {
        handled += batch.messages.length;
        await Promise.resolve();
      },
      true,
    );
    // NestJS's handler lookup tries the pattern as JSON first (an exception per call for a topic name): once per topic.
    let lookups = 0;
    const lookup = server.getHandlerByPattern.bind(server);
    server.getHandlerByPattern = (pattern: string) => (lookups++, lookup(pattern));
    await listening(server);
    ctx.defer(() => server.close());
    const commits: string[] = [];
    const consumer = server.unwrap<Consumer>();
    consumer.on(consumer.events.REQUEST, (e) => {
      if (e.payload.apiName === 'OffsetCommit') commits.push(e.payload.apiName);
    });
    await sleep(500); // joined and fetching
    await eventually(async () => {
      const seen = handled;
      await sleep(300);
      return handled === seen ? true : undefined;
    }, "earlier tests' messages read");
    const before = handled;
    commits.length = 0;

    const topic = names.of('patch.created');
    const producer = openProducer(kafka, `deferred-commits-${commitIntervalMs}`);
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    const workflowId = randomUUID();
    for (let i = 0; i < BATCHES; i++) {
      const event = patchCreated(workflowId, i + 1);
      await producer.send({
        topic,
        messages: [{ ...(await codec.message('patch.created', workflowId, event)), partition: 0 }],
      });
      await eventually(() => Promise.resolve(handled > before + i ? true : undefined), `message ${i + 1} handled`);
    }
    const committed = async () =>
      Number(
        (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions.find((p) => p.partition === 0)?.offset,
      );
    // No batch comes after the last one: its offset must still be committed, within the interval.
    const end = Number((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)?.high);
    await eventually(async () => ((await committed()) === end ? true : undefined), 'the last offset committed');
    return { commits: commits.length, handled: handled - before, lookups };
  }

  it('commits once per interval, not once per batch, and commits the last batch without waiting for another', async () => {
    const deferred = await consume(2_000);
    assert.equal(deferred.handled, BATCHES);
    assert.ok(deferred.commits <= 2, `${deferred.commits} OffsetCommit requests for ${BATCHES} batches in one window`);
    assert.equal(deferred.lookups, 1, 'the handler is looked up once, not per batch');
  });

  it('with an interval of 0, commits after every batch', async () => {
    const eager = await consume(0);
    assert.equal(eager.handled, BATCHES);
    assert.ok(eager.commits >= BATCHES, `${eager.commits} OffsetCommit requests for ${BATCHES} batches`);
  });
});
