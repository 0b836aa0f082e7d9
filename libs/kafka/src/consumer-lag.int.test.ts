import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { readConsumerLag } from './consumer-lag.js';
import { createKafka, openAdmin, openProducer } from './kafka-client.js';
import type { Admin, Kafka } from './kafkajs.js';
import { createTopicsAndWait } from './topic-apply.js';

const ctx = useTestContext('consumer-lag');

describe('readConsumerLag', () => {
  const topic = `${ctx.topicPrefix}lag-lib`;
  const group = ctx.group('committed-by-hand');
  let kafka: Kafka;
  let admin: Admin;

  before(async () => {
    kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    admin = openAdmin(kafka, 'consumer-lag-test');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    await createTopicsAndWait(admin, [{ topic, numPartitions: 3 }]);
    // Idempotent: a send retried after a slow answer (a busy broker) must not write the messages twice, or the
    // offsets below would be off.
    const producer = openProducer(kafka, 'consumer-lag-test', { idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      // 5 messages on partition 0, 2 on partition 1, none on partition 2.
      await producer.send({
        topic,
        messages: [0, 0, 0, 0, 0, 1, 1].map((partition, i) => ({ partition, value: `m${i}` })),
      });
    } finally {
      await producer.disconnect();
    }
    // Committed on partition 0 only: 2 of its 5 consumed.
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '2' }] });
  });

  it('reports committed and end offsets, and counts partitions without a commit from the earliest offset', async () => {
    const [lag, ...others] = await readConsumerLag(admin, { prefix: ctx.topicPrefix });
    assert.deepEqual(others, []);
    assert.equal(lag?.group, group);
    assert.equal(lag?.state, 'Empty');
    assert.deepEqual(
      lag?.partitions.map((p) => [p.partition, p.committedOffset, p.endOffset, p.lag, p.oldestUnconsumedAgeMs]),
      [
        [0, 2, 5, 3, null],
        [1, null, 2, 2, null],
        [2, null, 0, 0, null],
      ],
    );
  });

  it('ages the oldest unconsumed message of lagging partitions only', async () => {
    const now = Date.now() + 60_000;
    const [lag] = await readConsumerLag(admin, {
      prefix: ctx.topicPrefix,
      withAge: { kafka, timeoutMs: 10_000 },
      now: () => now,
    });
    const ages = lag?.partitions.map((p) => p.oldestUnconsumedAgeMs) ?? [];
    assert.ok((ages[0] ?? 0) >= 60_000 && (ages[0] ?? 0) < 120_000, `partition 0 age ${ages[0]}`);
    assert.ok((ages[1] ?? 0) >= 60_000, `partition 1 age ${ages[1]}`);
    assert.equal(ages[2], null);
    // The probe's own group is gone and never listed.
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    assert.deepEqual(
      groups.filter((g) => g.includes('lag-probe')),
      [],
    );
  });

  it('filters by group and by prefix', async () => {
    assert.deepEqual(await readConsumerLag(admin, { prefix: ctx.topicPrefix, groups: ['other'] }), []);
    assert.deepEqual(await readConsumerLag(admin, { prefix: `${ctx.topicPrefix}nothing-here.` }), []);
  });
});
