import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPool } from '#libs/db';
import { createKafka, openProducer } from '#libs/kafka';
import { createRedis } from '#libs/redis';
import { assertNoOpenResources, ResourceLeak, useTestContext } from './test-context.js';

const ctx = useTestContext('harness');

describe('the harness leak check', () => {
  it('names a producer, a pool and a Redis client left open, and passes once they are closed', async () => {
    const producer = openProducer(
      createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger }),
      'leaky-producer',
    );
    await producer.connect();
    const pool = createPool(ctx.databaseUrl, { name: 'leaky-pool' });
    await pool.query('SELECT 1');
    const redis = createRedis(ctx.config.REDIS_URL, 'leaky-redis');
    await redis.connect();

    assert.throws(assertNoOpenResources, (error: unknown) => {
      assert.ok(error instanceof ResourceLeak);
      assert.match(error.message, /3 resource\(s\) left open/);
      assert.match(error.message, /kafka-producer "leaky-producer"/);
      assert.match(error.message, /pg-pool "leaky-pool"/);
      assert.match(error.message, /redis "leaky-redis"/);
      return true;
    });

    await producer.disconnect();
    await pool.end();
    await redis.quit();
    await new Promise((resolve) => setImmediate(resolve));
    assert.doesNotThrow(assertNoOpenResources);
  });

  it('gives each test file its own database, cloned from the migrated template', async () => {
    const pool = createPool(ctx.databaseUrl, { name: 'harness-check' });
    ctx.defer(() => pool.end());
    const { rows } = await pool.query<{ db: string; outbox: string | null }>(
      "SELECT current_database() AS db, to_regclass('public.outbox')::text AS outbox",
    );
    assert.equal(rows[0]?.db, `t_${ctx.id}`);
    assert.equal(rows[0]?.outbox, 'outbox');
  });
});
