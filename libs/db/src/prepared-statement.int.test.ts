import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { createPool } from './pool.js';
import { preparedStatement } from './prepared-statement.js';

const ctx = useTestContext('prepared-statement');

describe('prepared statements of the run path', () => {
  it('are prepared once on a connection and executed again without a parse', async () => {
    const pool = createPool(ctx.databaseUrl, { name: 'prepared-under-test', max: 1 });
    ctx.defer(() => pool.end());
    const doubled = preparedStatement('test.doubled', 'SELECT $1::int * 2 AS doubled');
    const client = await pool.connect();
    try {
      const results = [];
      for (const n of [1, 2, 3]) results.push((await client.query<{ doubled: number }>(doubled.with([n]))).rows[0]);
      assert.deepEqual(results, [{ doubled: 2 }, { doubled: 4 }, { doubled: 6 }]);
      // The server's own account of this session: one prepared statement of that name, prepared by the protocol
      // (not by SQL PREPARE), with the text given.
      const { rows } = await client.query<{ statement: string; from_sql: boolean }>(
        'SELECT statement, from_sql FROM pg_prepared_statements WHERE name = $1',
        ['test.doubled'],
      );
      assert.deepEqual(rows, [{ statement: 'SELECT $1::int * 2 AS doubled', from_sql: false }]);
    } finally {
      client.release();
    }
  });

  it('refuses a second text under one name, when the module declaring it loads', () => {
    preparedStatement('test.once', 'SELECT 1');
    assert.doesNotThrow(() => preparedStatement('test.once', 'SELECT 1'));
    assert.throws(() => preparedStatement('test.once', 'SELECT 2'), /test\.once has two texts/);
  });
});
