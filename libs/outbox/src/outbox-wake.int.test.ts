import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPool, inTransaction } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { OutboxWaker, SKIP_OUTBOX_TRIGGER } from './outbox-wake.js';
import { insertOutboxRows } from './outbox-writer.js';

const ctx = useTestContext('outbox-wake');
/** A channel of the test's own, whose notification shows that everything committed before it has arrived. */
const FENCE_CHANNEL = 'outbox_wake_test_fence';

describe('waking the relays', () => {
  const pool = createPool(ctx.databaseUrl, { name: 'outbox-wake' });
  const listener = new pg.Client({ connectionString: ctx.databaseUrl });
  let notifications = 0;
  let fences = 0;
  const row = { topic: 't', key: 'k', eventType: 'test', payload: Buffer.from('x') };
  /** Waits until `done()` holds, or fails after 10 s saying what was awaited. */
  const until = async (what: string, done: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!done()) {
      if (Date.now() > deadline) assert.fail(`${what}: not within 10 s (${notifications} notifications arrived)`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  /** Waits until at least `count` notifications arrived (they come in commit order), or fails after 10 s. */
  const received = (count: number) => until(`${count} notifications`, () => notifications >= count);
  /** A normal insert: its NOTIFY comes after any earlier transaction's, so counting up to it counts those too. */
  const marker = () => inTransaction(pool, (client) => insertOutboxRows(client, [row]));
  /**
   * Returns once every notification sent through the pool so far has arrived. With nothing running or queued in the
   * pool, each NOTIFY sent through it has committed (the waker queues its next one in the same turn of the event loop
   * as its last one returned, so a poll never sees the pool idle in between). Then one on a channel of the test's own:
   * the listener gets notifications in commit order, whatever their channel, so once it has that one it has them all.
   */
  const allArrived = async () => {
    await until('the pool idle', () => pool.waitingCount === 0 && pool.idleCount === pool.totalCount);
    const fence = fences + 1;
    await pool.query(`SELECT pg_notify('${FENCE_CHANNEL}', '')`);
    await until('the fence notification', () => fences >= fence);
  };

  before(async () => {
    await listener.connect();
    listener.on('notification', ({ channel }) => (channel === FENCE_CHANNEL ? fences++ : notifications++));
    await listener.query('LISTEN outbox_new');
    await listener.query(`LISTEN ${FENCE_CHANNEL}`);
  });
  after(async () => {
    await listener.end();
    await pool.end();
  });

  it('the insert trigger notifies on commit, as before', async () => {
    notifications = 0;
    await marker();
    await received(1);
  });

  it('a transaction that opts out does not notify; the waker does, once or twice per burst', async () => {
    notifications = 0;
    await inTransaction(pool, async (client) => {
      await client.query(SKIP_OUTBOX_TRIGGER);
      await insertOutboxRows(client, [row]);
    });
    await marker();
    await received(1);
    await allArrived();
    assert.equal(notifications, 1, 'only the marker notified, not the opted-out transaction before it');

    notifications = 0;
    const waker = new OutboxWaker(pool);
    for (let i = 0; i < 100; i++) waker.wake();
    await received(1);
    await marker();
    await received(2);
    await allArrived();
    assert.ok(notifications <= 3, `100 wake() calls and a marker sent ${notifications} notifications`);
  });

  it('the opt-out ends with its transaction', async () => {
    notifications = 0;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(SKIP_OUTBOX_TRIGGER);
      await client.query('COMMIT');
      // Same connection, next transaction: the trigger notifies again.
      await client.query('BEGIN');
      await insertOutboxRows(client, [row]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await received(1);
  });
});
