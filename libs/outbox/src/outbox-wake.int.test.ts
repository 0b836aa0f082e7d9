import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPool, inTransaction } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { OutboxWaker, skipOutboxTrigger } from './outbox-wake.js';
import { insertOutboxRows } from './outbox-writer.js';

const ctx = useTestContext('outbox-wake');

describe('waking the relays', () => {
  const pool = createPool(ctx.databaseUrl, { name: 'outbox-wake' });
  const listener = new pg.Client({ connectionString: ctx.databaseUrl });
  let notifications = 0;
  const row = { topic: 't', key: 'k', eventType: 'test', payload: Buffer.from('x') };
  /** Waits until at least `count` notifications arrived (they come in commit order), or fails after 10 s. */
  const received = async (count: number) => {
    const deadline = Date.now() + 10_000;
    while (notifications < count) {
      if (Date.now() > deadline) assert.fail(`only ${notifications} of ${count} notifications arrived`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  /** A normal insert: its NOTIFY comes after any earlier transaction's, so counting up to it counts those too. */
  const marker = () => inTransaction(pool, (client) => insertOutboxRows(client, [row]));

  before(async () => {
    await listener.connect();
    listener.on('notification', () => notifications++);
    await listener.query('LISTEN outbox_new');
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
      await skipOutboxTrigger(client);
      await insertOutboxRows(client, [row]);
    });
    await marker();
    await received(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(notifications, 1, 'only the marker notified, not the opted-out transaction before it');

    notifications = 0;
    const waker = new OutboxWaker(pool);
    for (let i = 0; i < 100; i++) waker.wake();
    await received(1);
    await marker();
    await received(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(notifications <= 3, `100 wake() calls and a marker sent ${notifications} notifications`);
  });

  it('the opt-out ends with its transaction', async () => {
    notifications = 0;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await skipOutboxTrigger(client);
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
