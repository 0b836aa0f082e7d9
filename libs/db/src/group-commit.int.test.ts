import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { GroupCommit, type GroupCommitOptions } from './group-commit.js';
import type { PoolClient } from 'pg';
import { createPool, type Pool } from './pool.js';

const ctx = useTestContext('group-commit');

class Refused extends Error {}

describe('GroupCommit against Postgres', () => {
  let pool: Pool;
  const rows = async () =>
    (await pool.query<{ doc: { i: number } }>('SELECT doc FROM gc_items ORDER BY id')).rows.map((r) => r.doc.i);

  /** Inserts a batch of jsonb documents with one statement, as the API's batch writers do; counts its calls. */
  const committer = (options: Partial<GroupCommitOptions<unknown, number>> = {}) => {
    const calls: number[] = [];
    const commits = new GroupCommit<unknown, number>(pool, {
      maxBatch: 500,
      maxConcurrent: 2,
      unavailable: (error) => new Refused((error as Error).message),
      write: async (client, requests) => {
        calls.push(requests.length);
        await client.query('INSERT INTO gc_items (doc) SELECT * FROM unnest($1::jsonb[])', [
          requests.map((r) => JSON.stringify(r)),
        ]);
        return requests.map((_, index) => ({ kind: 'done', value: index }));
      },
      ...options,
    });
    return { commits, calls };
  };

  before(async () => {
    pool = createPool(ctx.databaseUrl, { name: 'group-commit-test', max: 4 });
    ctx.defer(() => pool.end());
    await pool.query('CREATE TABLE gc_items (id bigserial PRIMARY KEY, doc jsonb NOT NULL)');
  });

  it('fails only the request that breaks its batch; every other request of the batch is written', async () => {
    await pool.query('TRUNCATE gc_items');
    const { commits, calls } = committer();
    const bad = 57;
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => commits.submit(i === bad ? { i, text: 'nul \u0000' } : { i })),
    );
    assert.deepEqual(
      results.flatMap((r, i) => (r.status === 'rejected' ? [i] : [])),
      [bad],
    );
    assert.ok((results[bad] as PromiseRejectedResult).reason instanceof Refused);
    const written = await rows();
    assert.deepEqual(
      [...written].sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i).filter((i) => i !== bad),
    );
    assert.ok(
      calls.some((n) => n > 100),
      `the bad request shared a batch: ${calls.join(',')}`,
    );
  });

  it('runs the begin statement inside each transaction, in the same round trip as BEGIN', async () => {
    const seen: (string | null)[] = [];
    let queries = 0;
    const { commits } = committer({
      begin: "SELECT set_config('gc.marker', 'on', true)",
      write: async (client, requests) => {
        const { rows: set } = await client.query<{ marker: string | null }>(
          "SELECT current_setting('gc.marker', true) AS marker",
        );
        seen.push(set[0]?.marker ?? null);
        return requests.map((_, index) => ({ kind: 'done', value: index }));
      },
    });
    // Counts the statements the batch's connection is sent (the wrapper goes with the connection back to the pool).
    const count = (client: PoolClient) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
        queries++;
        return query(...args);
      };
    };
    pool.once('acquire', count);
    await commits.submit({ i: 1 });
    assert.deepEqual(seen, ['on'], 'set by the begin statement, inside the transaction');
    assert.equal(queries, 3, 'BEGIN with its statement, the write, COMMIT');
  });

  it('fails a batch whole, without splitting it, when the database itself fails', async () => {
    const { commits, calls } = committer({
      write: async (client, requests) => {
        calls.push(requests.length);
        // What a server shutting down says (SQLSTATE 57P01).
        await client.query("DO $$ BEGIN RAISE EXCEPTION 'going down' USING ERRCODE = '57P01'; END $$");
        return [];
      },
    });
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => commits.submit({ i })));
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.equal(
      calls.reduce((n, c) => n + c, 0),
      50,
      `each request was tried once: ${calls.join(',')}`,
    );
  });

  it('refuses requests past maxQueued at once, and writes the ones it took', async () => {
    await pool.query('TRUNCATE gc_items');
    const holder = await pool.connect();
    const { commits } = committer({ maxConcurrent: 1, maxQueued: 3, overloaded: () => new Refused('full') });
    try {
      // The batch in flight waits for this lock, so the queue fills up.
      await holder.query('BEGIN; LOCK TABLE gc_items IN EXCLUSIVE MODE');
      const pending = Array.from({ length: 10 }, (_, i) => commits.submit({ i }));
      const refused = await Promise.allSettled(pending.slice(4));
      assert.ok(refused.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'full'));
      await holder.query('COMMIT');
      await Promise.all(pending.slice(0, 4));
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
    assert.deepEqual(await rows(), [0, 1, 2, 3]);
  });
});
