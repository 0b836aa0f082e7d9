import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from './backoff.js';
import { WakeSignal } from './wake-signal.js';

describe('WakeSignal', () => {
  it('wakes a waiter at once when notified, and remembers a notification that came before the wait', async () => {
    const wake = new WakeSignal();
    const never = new AbortController().signal;
    let started = performance.now();
    setTimeout(() => wake.notify(), 20);
    await wake.wait(10_000, never);
    assert.ok(performance.now() - started < 1_000);
    assert.equal(wake.consume(), true);
    assert.equal(wake.consume(), false);

    wake.notify();
    started = performance.now();
    await wake.wait(10_000, never);
    assert.ok(performance.now() - started < 50);
  });

  it('times out, and returns at once when aborted', async () => {
    const wake = new WakeSignal();
    let started = performance.now();
    await wake.wait(50, new AbortController().signal);
    assert.ok(performance.now() - started >= 45);
    const abort = new AbortController();
    started = performance.now();
    setTimeout(() => abort.abort(), 20);
    await wake.wait(10_000, abort.signal);
    assert.ok(performance.now() - started < 1_000);
    assert.equal(wake.consume(), false);
  });
});

describe('Backoff', () => {
  it('grows exponentially up to the cap, with jitter in the upper half, and starts over after reset', () => {
    const top = new Backoff(100, 1_000, () => 1);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => top.next()),
      [100, 200, 400, 800, 1_000, 1_000],
    );
    const bottom = new Backoff(100, 1_000, () => 0);
    assert.deepEqual(
      [1, 2, 3].map(() => bottom.next()),
      [50, 100, 200],
    );
    top.reset();
    assert.equal(top.next(), 100);
  });
});
