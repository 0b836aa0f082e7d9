import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool, type Pool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { DefinitionCache } from './definition-cache.js';

const ctx = useTestContext('definition-cache');

/** A definition of about `bytes` bytes of JSON text. */
const definitionOf = (bytes: number) => ({
  nodes: { a: { type: 'function', config: { expression: `"${'x'.repeat(bytes)}"` } } },
  edges: [],
});

describe('the coordinator’s definition cache', () => {
  let pool: Pool;
  const workflows: string[] = [];

  before(async () => {
    pool = createPool(ctx.databaseUrl, { name: 'definition-cache' });
    ctx.defer(() => pool.end());
    const { rows } = await pool.query<{ id: string }>(`INSERT INTO workspaces (name) VALUES ('d') RETURNING id`);
    for (let i = 0; i < 6; i++) {
      const workflow = await pool.query<{ id: string }>(
        `INSERT INTO workflows (workspace_id, name) VALUES ($1, $2) RETURNING id`,
        [rows[0]!.id, `w${i}`],
      );
      workflows.push(workflow.rows[0]!.id);
      await pool.query(
        `INSERT INTO workflow_versions (workflow_id, version, definition, applied_through_seq) VALUES ($1, 1, $2, 0)`,
        [workflow.rows[0]!.id, definitionOf(100_000)],
      );
    }
  });

  it('holds at most its byte budget, dropping the least recently used, and serves a whole batch however large', async () => {
    const cache = new DefinitionCache(pool, 350_000);
    const wanted = (i: number) => ({ workflowId: workflows[i]!, version: 1 });
    await cache.load([wanted(0), wanted(1), wanted(2)]);
    assert.ok(cache.bytes <= 350_000 && cache.bytes > 300_000, `${cache.bytes} bytes`);
    await cache.load([wanted(0)]); // used again: now the most recent
    await cache.load([wanted(3)]);
    assert.ok(cache.bytes <= 350_000, `${cache.bytes} bytes`);
    assert.ok(cache.has(workflows[0]!, 1), 'recently used kept');
    assert.ok(!cache.has(workflows[1]!, 1), 'least recently used dropped');

    // A batch that needs more than the budget still gets all of it; the cache shrinks back afterwards.
    const batch = await cache.load([0, 1, 2, 3, 4, 5].map(wanted));
    assert.equal(batch.size, 6);
    for (let i = 0; i < 6; i++) assert.ok(batch.get(workflows[i]!, 1), `definition ${i} in the batch`);
    assert.ok(cache.bytes <= 350_000, `${cache.bytes} bytes after the batch`);
  });
});
