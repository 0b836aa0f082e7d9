import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { createPool } from './pool.js';

const ctx = useTestContext('pool');

describe('a pool whose connection ends under a checked-out client (Postgres restarting)', () => {
  it('does not crash the process, and serves the next query on a new connection', async () => {
    const pool = createPool(ctx.databaseUrl, { name: 'pool-under-test', max: 2 });
    ctx.defer(() => pool.end());
    const killer = createPool(ctx.databaseUrl, { name: 'pool-killer', max: 1 });
    ctx.defer(() => killer.end());

    const client = await pool.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const ended = new Promise((resolve) => client.once('end', resolve));
    // What a restart does to every session: the server ends it (an unhandled 'error' event would end this file).
    await killer.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    await ended;
    await assert.rejects(client.query('SELECT 1'));
    client.release();

    const { rows: after } = await pool.query<{ one: number }>('SELECT 1 AS one');
    assert.equal(after[0]?.one, 1);
  });
});
