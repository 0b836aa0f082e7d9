import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from './backoff.js';
import { WakeSignal } from './wake-signal.js';

/** Whether the promise has settled once everything already queued has run (no clock involved). */
const settled = (promise: Promise<unknown>) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);

describe('WakeSignal', () => {
  it('wakes a waiter at once when notified, and remembers a notification that came before the wait', async () => {
    const wake = new WakeSignal();
    const never = new AbortController().signal;
    const waiting = wake.wait(10_000, never);
    assert.equal(await settled(waiting), false, 'waits while nothing is notified');
    wake.notify();
    assert.equal(await settled(waiting), true, 'woken by the notification, long before its timeout');
    assert.equal(wake.consume(), true);
    assert.equal(wake.consume(), false);

    wake.notify();
    assert.equal(await settled(wake.wait(10_000, never)), true, 'a notification before the wait: returns at once');
  });

  it('times out, and returns at once when aborted', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const wake = new WakeSignal();
    const waiting = wake.wait(50, new AbortController().signal);
    t.mock.timers.tick(49);
    assert.equal(await settled(waiting), false, 'still waiting 1 ms before the timeout');
    t.mock.timers.tick(1);
    assert.equal(await settled(waiting), true, 'done at the timeout');

    const abort = new AbortController();
    const aborted = wake.wait(10_000, abort.signal);
    assert.equal(await settled(aborted), false);
    abort.abort();
    assert.equal(await settled(aborted), true, 'returns when aborted, long before its timeout');
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
