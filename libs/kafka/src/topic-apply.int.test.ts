import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { createKafka, openAdmin } from './kafka-client.js';
import { applyTopics, readExistingTopics, TopicChangeRefused } from './topic-apply.js';
import { topicCatalog } from './topics.js';

const ctx = useTestContext('topic-apply');

describe('applyTopics against the broker', () => {
  const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
  const admin = openAdmin(kafka, 'topic-apply-test');
  const catalog = (partitions: number) => topicCatalog({ prefix: ctx.topicPrefix, partitions, replicationFactor: 1 });

  it('creates every topic with its partitions and configs', async () => {
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    const plan = await applyTopics(admin, catalog(2));
    assert.ok(plan.actions.every((a) => a.kind === 'create'));
    const existing = await readExistingTopics(admin, catalog(2));
    assert.equal(existing.size, catalog(2).length);
    const patches = existing.get(`${ctx.topicPrefix}patch.created`);
    assert.equal(patches?.partitions, 2);
    assert.equal(patches?.configs['compression.type'], 'snappy');
    assert.equal(patches?.configs['cleanup.policy'], 'delete');
    assert.equal(existing.get(`${ctx.topicPrefix}patch.created.dlq`)?.configs['retention.ms'], String(14 * 86_400_000));
  });

  it('is idempotent', async () => {
    const plan = await applyTopics(admin, catalog(2));
    assert.deepEqual(new Set(plan.actions.map((a) => a.kind)), new Set(['unchanged']));
  });

  it('applies a partition increase', async () => {
    const plan = await applyTopics(admin, catalog(4));
    assert.ok(plan.actions.every((a) => a.kind === 'add-partitions'));
    const existing = await readExistingTopics(admin, catalog(4));
    assert.ok([...existing.values()].every((t) => t.partitions === 4));
  });

  it('refuses a decrease with a clear message and changes nothing, not even the safe parts', async () => {
    // One topic shrinks (refused), the others grow (safe): the whole plan must be refused.
    const mixed = catalog(6).map((spec) => (spec.logicalName === 'run.events' ? { ...spec, partitions: 1 } : spec));
    await assert.rejects(applyTopics(admin, mixed), (error: unknown) => {
      assert.ok(error instanceof TopicChangeRefused);
      assert.match(
        error.message,
        /run\.events: has 4 partitions and the catalog says 1: Kafka cannot remove partitions/,
      );
      return true;
    });
    const existing = await readExistingTopics(admin, catalog(4));
    assert.ok(
      [...existing.values()].every((t) => t.partitions === 4),
      'no topic grew',
    );
  });
});
