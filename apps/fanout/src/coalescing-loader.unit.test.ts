import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalescingLoader } from './coalescing-loader.js';

/** A batch function whose batches stay open until released, recording the keys of each. */
function heldBatches() {
  const batches: string[][] = [];
  const releases: (() => void)[] = [];
  const load = (keys: readonly string[]) => {
    batches.push([...keys]);
    return new Promise<string[]>((resolve) => releases.push(() => resolve(keys.map((k) => k.toUpperCase()))));
  };
  return { load, batches, release: () => releases.shift()?.() };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('coalescingLoader', () => {
  it('sends a key alone at once, and the keys asked for while a batch runs together in the next one', async () => {
    const held = heldBatches();
    const loader = coalescingLoader(held.load);
    const first = loader.load('a');
    await settle();
    assert.deepEqual(held.batches, [['a']], 'a lone key does not wait');
    const waiting = ['b', 'c', 'd'].map((k) => loader.load(k));
    await settle();
    assert.deepEqual(held.batches, [['a']], 'nothing else leaves while a batch is in flight');
    held.release();
    assert.equal(await first, 'A');
    await settle();
    assert.deepEqual(held.batches, [['a'], ['b', 'c', 'd']]);
    held.release();
    assert.deepEqual(await Promise.all(waiting), ['B', 'C', 'D']);
  });

  it('reads afresh every time (no cache), and a failed batch fails only its own keys', async () => {
    let calls = 0;
    const loader = coalescingLoader((keys: readonly string[]) => {
      calls++;
      return calls === 2 ? Promise.reject(new Error('down')) : Promise.resolve(keys.map(() => calls));
    });
    assert.equal(await loader.load('a'), 1);
    await assert.rejects(loader.load('a'), /down/);
    assert.equal(await loader.load('a'), 3);
  });
});
