import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchCoalescer } from './batch-coalescer.js';

describe('batch coalescer', () => {
  it('writes what arrives during a write together, one write at a time', async () => {
    const writes: number[][] = [];
    let active = 0;
    // The first write stays open until the test has submitted the rest: no timing decides what is merged.
    let openFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (openFirst = resolve));
    const coalescer = new BatchCoalescer<number>(async (items) => {
      active++;
      assert.equal(active, 1, 'one write at a time');
      writes.push([...items]);
      if (writes.length === 1) await firstHeld;
      active--;
    });
    const first = coalescer.submit(1);
    assert.deepEqual(writes, [[1]], 'the first write started at once');
    const rest = [coalescer.submit(2), coalescer.submit(3), coalescer.submit(4)];
    openFirst();
    await Promise.all([first, ...rest]);
    assert.deepEqual(writes, [[1], [2, 3, 4]]);
  });

  it('retries each item alone after a merged write failed, so only the bad one fails', async () => {
    const writes: number[][] = [];
    const coalescer = new BatchCoalescer<number>(async (items) => {
      writes.push([...items]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (items.includes(13)) throw new Error('poison 13');
    });
    const blocker = coalescer.submit(0);
    const results = await Promise.allSettled([coalescer.submit(12), coalescer.submit(13), coalescer.submit(14)]);
    await blocker;
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(writes, [[0], [12, 13, 14], [12], [13], [14]]);
  });
});
