import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool, type Pool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { ContentStore } from './content-store.js';

const ctx = useTestContext('cas');

describe('content-addressed storage is per workspace', () => {
  let pool: Pool;
  let store: ContentStore;
  let mine: string;
  let theirs: string;

  before(async () => {
    pool = createPool(ctx.databaseUrl, { name: 'cas-test' });
    ctx.defer(() => pool.end());
    store = new ContentStore(pool);
    const ws = async (name: string) =>
      (await pool.query<{ id: string }>('INSERT INTO workspaces (name) VALUES ($1) RETURNING id', [name])).rows[0]!.id;
    mine = await ws('mine');
    theirs = await ws('theirs');
  });

  it("does not resolve another workspace's blob, even by its exact reference", async () => {
    const stored = await store.storeJson(theirs, { secret: 'x'.repeat(100) }, 10);
    assert.ok('ref' in stored);
    assert.deepEqual(await store.loadJson(theirs, stored.ref), { secret: 'x'.repeat(100) });
    assert.equal(await store.get(mine, stored.ref), undefined);
    // An output of one of my nodes shaped like a reference to their blob.
    await assert.rejects(
      store.resolveNodeOutputs(mine, { forged: { $ref: stored.ref } }),
      /not in this workspace's storage/,
    );
  });

  it('stores the same content once per workspace and resolves each in its own', async () => {
    const a = await store.put(mine, Buffer.from('same'), 'text/plain');
    const b = await store.put(theirs, Buffer.from('same'), 'text/plain');
    await store.put(mine, Buffer.from('same'), 'text/plain');
    assert.equal(a, b);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM cas_blobs WHERE sha256 = $1', [
      a.slice('sha256:'.length),
    ]);
    assert.equal(rows[0]?.n, 2);
    assert.equal((await store.get(mine, a))?.content.toString(), 'same');
  });
});
