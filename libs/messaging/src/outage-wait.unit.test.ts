import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '#libs/observability';
import { waitOutOutages } from './outage-wait.js';

const outage = () => Object.assign(new Error('connect ECONNREFUSED'), { retriable: true });

/** A clock whose sleeps pass at once, and a logger whose lines are kept. */
function setup() {
  const clock = { t: 0, sleeps: [] as number[] };
  const lines: { level: string; msg: string; waitedMs?: number }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as never);
      done();
    },
  });
  return {
    clock,
    lines,
    options: {
      logger: createLogger({}, 'info', sink),
      what: 'decoding',
      clock: {
        now: () => clock.t,
        sleep: (ms: number) => {
          clock.sleeps.push(ms);
          clock.t += ms;
          return Promise.resolve();
        },
      },
    },
  };
}

/** Fails `n` times with `error`, then answers. */
const failing = (n: number, error: () => Error = outage) => {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    attempt: () => (++calls <= n ? Promise.reject(error()) : Promise.resolve('decoded')),
  };
};

describe('waitOutOutages', () => {
  it('retries an outage with a growing, capped backoff until the attempt succeeds', async () => {
    const { clock, options } = setup();
    const flaky = failing(8);
    assert.equal(await waitOutOutages(flaky.attempt, { ...options, keepWaiting: () => true }), 'decoded');
    assert.equal(flaky.calls, 9);
    assert.deepEqual(clock.sleeps, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  it('logs the start of an outage, then at most every logEveryMs, then its end', async () => {
    const { lines, options } = setup();
    // Pauses of 5 s after the first few: almost 10 minutes of outage.
    await waitOutOutages(failing(120).attempt, { ...options, keepWaiting: () => true });
    const warnings = lines.filter((l) => l.level === 'warn');
    assert.ok(warnings.length >= 19 && warnings.length <= 21, `one warning per 30 s, got ${warnings.length}`);
    assert.equal(lines.at(-1)?.level, 'info');
    assert.ok((lines.at(-1)?.waitedMs ?? 0) > 570_000);
  });

  it('throws any other failure at once, untried again and unlogged', async () => {
    const { lines, options } = setup();
    const broken = failing(5, () => new Error('bad magic byte'));
    await assert.rejects(waitOutOutages(broken.attempt, { ...options, keepWaiting: () => true }), /bad magic byte/);
    assert.equal(broken.calls, 1);
    assert.deepEqual(lines, []);
  });

  it('gives up with the outage’s error once the caller stops wanting the result', async () => {
    const { options } = setup();
    const flaky = failing(100);
    let wanted = 3;
    await assert.rejects(
      waitOutOutages(flaky.attempt, { ...options, keepWaiting: () => wanted-- > 0 }),
      /ECONNREFUSED/,
    );
    assert.equal(flaky.calls, 4);
  });

  it('calls beforePause before each pause, and a failing one does not stop the wait', async () => {
    const { options } = setup();
    let beats = 0;
    const beforePause = () => (++beats === 1 ? Promise.reject(new Error('rebalancing')) : Promise.resolve());
    await waitOutOutages(failing(3).attempt, { ...options, keepWaiting: () => true, beforePause });
    assert.equal(beats, 3);
  });
});
