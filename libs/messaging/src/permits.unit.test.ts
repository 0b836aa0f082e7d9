import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Permits } from './permits.js';

describe('permits', () => {
  it('lets at most the limit run at once, the others in arrival order, and frees a permit on failure too', async () => {
    const permits = new Permits(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const task = (n: number, fail = false) =>
      permits.with(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.push(n);
        running--;
        if (fail) throw new Error(`task ${n}`);
        return n;
      });
    const results = await Promise.allSettled([task(1), task(2, true), task(3), task(4), task(5)]);
    assert.equal(most, 2);
    assert.deepEqual(order, [1, 2, 3, 4, 5]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
  });
});
