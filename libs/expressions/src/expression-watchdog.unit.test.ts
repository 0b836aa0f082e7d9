import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { ExpressionEvaluator, ExpressionLimitError } from './index.js';

const TIMEOUT_MS = 300;
const data = { input: { x: 4 }, nodes: {} };

/**
 * The time limit is for runaways, not for load: a chaos run (eight processes on two cores) saw `nodes.call.body.ok`
 * stopped "after 1000 ms" when the limit was wall time. This starves the pool's thread on purpose.
 */
describe('expression time limit under load', () => {
  const evaluator = new ExpressionEvaluator({ timeoutMs: TIMEOUT_MS, maxDepth: 200, threads: 1, maxHeapMb: 512 });
  before(() => evaluator.evaluate('true', null));
  after(() => evaluator.close());

  it('counts CPU, not wall time: a starved thread finishes, a runaway on it is still stopped', async (t) => {
    if (!cpuTimeOfThreadsIsVisible()) return t.skip('no /proc/thread-self: the limit is wall time here');
    // Unstarved, this takes about a third of the limit; measured, not assumed.
    const work = '$count($distinct([1..N]))';
    const n = await sizeFor(evaluator, work, TIMEOUT_MS / 3);
    const busy = await starveThisProcess(4);
    try {
      const started = performance.now();
      const value = await evaluator.evaluate(work.replace('N', String(n)), data);
      const wallMs = performance.now() - started;
      assert.equal(value, n);
      // Otherwise the test proved nothing: the old wall-clock watchdog would have passed it too.
      assert.ok(wallMs > TIMEOUT_MS, `the starved evaluation took only ${Math.round(wallMs)} ms`);
      await assert.rejects(evaluator.evaluate('$count($distinct([1..200000]))', data), ExpressionLimitError);
    } finally {
      for (const child of busy) child.kill('SIGKILL');
      spawnSync('taskset', ['-a', '-p', '-c', `0-${cpuCount() - 1}`, String(process.pid)], { stdio: 'ignore' });
    }
  });
});

function cpuTimeOfThreadsIsVisible(): boolean {
  return process.platform === 'linux' && spawnSync('taskset', ['-V']).status === 0;
}

function cpuCount(): number {
  return Number(spawnSync('nproc', ['--all']).stdout.toString().trim() || '1');
}

/**
 * The range size at which `work` takes about `targetMs` on an idle thread ($distinct is quadratic). Each size is timed
 * three times and the fastest counts: other tests share the machine, and waiting for a CPU is not work.
 */
async function sizeFor(evaluator: ExpressionEvaluator, work: string, targetMs: number): Promise<number> {
  let n = 2_000;
  for (;;) {
    let ms = Infinity;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await evaluator.evaluate(work.replace('N', String(n)), data);
      ms = Math.min(ms, performance.now() - started);
    }
    if (ms >= targetMs / 4) return Math.max(n, Math.round(n * Math.sqrt(targetMs / ms)));
    n *= 2;
  }
}

/**
 * Pins every thread of this process to CPU 0 and starts `count` busy loops there: each thread gets a slice of it.
 * Resolves once every loop spins (a Node child takes tens of ms to start; an evaluation could finish before that).
 */
async function starveThisProcess(count: number): Promise<ChildProcess[]> {
  const pinned = spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  assert.equal(pinned.status, 0, 'taskset could not pin this process');
  const children = Array.from({ length: count }, () =>
    spawn('taskset', ['-c', '0', process.execPath, '-e', 'process.stdout.write("spinning\\n"); for (;;);'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
  await Promise.all(children.map((child) => once(child.stdout as NodeJS.ReadableStream, 'data')));
  return children;
}
