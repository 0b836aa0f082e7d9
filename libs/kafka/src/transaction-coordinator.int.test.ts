import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { createKafka, openAdmin, openProducer } from './kafka-client.js';
import type { Kafka, Producer } from './kafkajs.js';
import { createTopicsAndWait } from './topic-apply.js';

/**
 * kafkajs is patched (patches/kafkajs+2.2.4.patch) to remember a transactional producer's transaction coordinator:
 * stock kafkajs sends FindCoordinator before AddPartitionsToTxn and again before EndTxn, two of the five sequential
 * round trips of every coordinator step. This test fails on an unpatched kafkajs (a missed `npm ci` postinstall) and on
 * a patch that forgets the coordinator when it answers CONCURRENT_TRANSACTIONS (a transaction begun while the broker
 * still writes the previous one's markers: every back-to-back transaction here). When the patch forgets it is in
 * transaction-coordinator.unit.test.ts.
 */
const ctx = useTestContext('transaction-coordinator');

describe('a transactional producer and its transaction coordinator (patched kafkajs)', () => {
  const topic = `${ctx.topicPrefix}txn-coordinator`;
  let kafka: Kafka;

  before(async () => {
    kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    const admin = openAdmin(kafka, 'transaction-coordinator-test');
    await admin.connect();
    try {
      await createTopicsAndWait(admin, [{ topic, numPartitions: 2 }]);
    } finally {
      await admin.disconnect();
    }
  });

  const open = (transactionalId: string): { producer: Producer; requests: string[] } => {
    const producer = openProducer(kafka, transactionalId, {
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 1, initialRetryTime: 10 },
    });
    const requests: string[] = [];
    producer.on(producer.events.REQUEST, (event) => requests.push(event.payload.apiName));
    ctx.defer(() => producer.disconnect());
    return { producer, requests };
  };

  const commitOne = async (producer: Producer, value: string): Promise<void> => {
    const transaction = await producer.transaction();
    try {
      await transaction.send({ topic, messages: [{ partition: 0, value }] });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  };

  // kafkajs names the FindCoordinator request GroupCoordinator, whatever the coordinator type.
  const count = (requests: string[], apiName: string) => requests.filter((name) => name === apiName).length;

  it('looks the coordinator up once and then sends only AddPartitionsToTxn, Produce and EndTxn per transaction', async () => {
    const { producer, requests } = open(`${ctx.id}-steady`);
    await producer.connect();
    await commitOne(producer, 'first');
    const afterFirst = count(requests, 'GroupCoordinator');
    assert.ok(afterFirst >= 1, `the first transaction finds its coordinator (${requests.join(', ')})`);
    requests.length = 0;
    for (let i = 0; i < 5; i += 1) await commitOne(producer, `next-${i}`);
    assert.equal(
      count(requests, 'GroupCoordinator'),
      0,
      `no lookups in five more transactions: ${requests.join(', ')}`,
    );
    assert.equal(count(requests, 'Produce'), 5);
    assert.equal(count(requests, 'EndTxn'), 5);
  });
});
