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
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

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
    await inTransaction(pool, (client) => insertOutboxRows(client, [row]));
    await settle();
    assert.equal(notifications, 1);
  });

  it('a transaction that opts out does not notify; the waker does, once per burst', async () => {
    notifications = 0;
    await inTransaction(pool, async (client) => {
      await skipOutboxTrigger(client);
      await insertOutboxRows(client, [row]);
    });
    await settle();
    assert.equal(notifications, 0, 'no NOTIFY from the opted-out transaction');

    const waker = new OutboxWaker(pool);
    for (let i = 0; i < 100; i++) waker.wake();
    await settle();
    assert.ok(notifications >= 1 && notifications <= 2, `100 wake() calls sent ${notifications} notifications`);
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
    await settle();
    assert.equal(notifications, 1);
  });
});
