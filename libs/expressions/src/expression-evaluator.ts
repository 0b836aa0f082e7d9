import { Piscina } from 'piscina';
import { ExpressionError, ExpressionLimitError } from './expression-errors.js';
import { BoundedExpressions } from './bounded-expressions.js';
import { evaluateHere, type EvaluationOutcome, type EvaluationTask } from './expression-thread.js';
import { newThreadClock, readProgress } from './thread-clock.js';

export interface ExpressionLimits {
  /**
   * CPU time one evaluation may use, counted from when a thread starts it (wall time where the platform does not show a
   * thread's CPU time). An evaluation is also stopped after WALL_FACTOR times this in wall time, however starved.
   */
  timeoutMs: number;
  /** jsonata's nesting limit (recursive functions). */
  maxDepth: number;
  /** Threads kept running; an expression over its time limit costs its thread, which the pool replaces. */
  threads?: number;
  /**
   * Old-generation heap of each thread: past it V8 stops the thread and the expression fails, but only if it got
   * there by small allocations; one large allocation past it aborts the whole process (nodejs/node#47224). So it is a
   * backstop set well above what a bounded expression needs (jsonata's ranges stop at 10^7 items, `$pad` and `$join`
   * are size-checked, results are budgeted); the time limit stops a memory bomb long before.
   */
  maxHeapMb?: number;
  /** Largest result, as JSON (UTF-8 bytes). */
  maxResultBytes?: number;
}

const DEFAULTS = { threads: 2, maxHeapMb: 1_024, maxResultBytes: 16 * 1_048_576 };
/** A thread that got a tenth of a CPU for this long is stopped even though its expression may be innocent. */
const WALL_FACTOR = 10;

/**
 * Evaluates user JSONata (edge conditions in the coordinator, `function` nodes and prompt placeholders in the worker)
 * in a pool of worker threads, not on the caller's event loop, unless the expression can only do work linear in its
 * data (bounded-expressions.ts: field paths, arithmetic, comparisons), which runs where it is asked. jsonata checks
 * its time and stack limits only between its own steps, and its built-ins ($distinct, $pad, $join, regexes) run
 * natively for as long as they like; on a thread, such an expression is stopped from outside: past its time limit its
 * thread is terminated (and replaced), and the caller gets an ExpressionLimitError. Memory is bounded by that time
 * limit, a result budget, size checks in the string built-ins (guarded-builtins.ts) and, as a backstop, a heap cap per
 * thread. Regexes run on a linear-time engine (linear-regex.ts), so they never need that.
 *
 * The threads stay up, each with its compiled expressions, so an evaluation costs a message each way (bench/README.md
 * has the figure); a bounded one costs neither.
 */
export class ExpressionEvaluator {
  private readonly pool: Piscina<EvaluationTask, EvaluationOutcome>;
  private readonly limits: EvaluationTask['limits'];
  private readonly timeoutMs: number;
  private readonly maxHeapMb: number;
  private readonly bounded = new BoundedExpressions();
  private closed = false;

  constructor(limits: ExpressionLimits = { timeoutMs: 1_000, maxDepth: 500 }) {
    const threads = limits.threads ?? DEFAULTS.threads;
    this.maxHeapMb = limits.maxHeapMb ?? DEFAULTS.maxHeapMb;
    this.timeoutMs = limits.timeoutMs;
    this.limits = {
      wallTimeoutMs: limits.timeoutMs * WALL_FACTOR,
      maxDepth: limits.maxDepth,
      maxResultBytes: limits.maxResultBytes ?? DEFAULTS.maxResultBytes,
    };
    this.pool = new Piscina({
      filename: new URL('./expression-thread.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      // One task per thread: killing a thread must not take other expressions with it.
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb },
      // A thread runs nothing but jsonata; no need for the process's flags (--cpu-prof, --inspect) there.
      execArgv: [],
    });
    // A thread's failure outside any task (none is expected) must not take the process down; the pool replaces it.
    this.pool.on('error', () => undefined);
    // A fresh thread spends most of a second loading jsonata and re2js on a busy machine: pay that now rather than on
    // a run's first expression. (A replaced thread loads them again, before its clock starts.)
    void Promise.all(Array.from({ length: threads }, () => this.evaluateOnThread('true', null))).catch(() => undefined);
  }

  /** Whether the expression can only do work linear in its data (bounded-expressions.ts): it runs on the caller. */
  isBounded(expression: string): boolean {
    return this.bounded.has(expression);
  }

  async evaluate(expression: string, data: unknown): Promise<unknown> {
    if (this.closed) throw new Error('the expression evaluator is closed');
    const outcome = this.isBounded(expression)
      ? await evaluateHere({ expression, data, limits: this.limits })
      : await this.evaluateOnThread(expression, data);
    if (!outcome.ok) {
      throw outcome.limit
        ? new ExpressionLimitError(expression, outcome.message)
        : new ExpressionError(expression, outcome.message);
    }
    return outcome.json === undefined ? undefined : (JSON.parse(outcome.json) as unknown);
  }

  private async evaluateOnThread(expression: string, data: unknown): Promise<EvaluationOutcome> {
    const clock = newThreadClock();
    const abort = new AbortController();
    const watchdog = new Watchdog(clock, this.timeoutMs, abort);
    let outcome: EvaluationOutcome;
    try {
      outcome = await this.pool.run({ expression, data, limits: this.limits, clock }, { signal: abort.signal });
    } catch (error) {
      if (watchdog.fired) {
        throw new ExpressionLimitError(expression, `stopped after ${this.timeoutMs} ms of CPU (its time limit)`);
      }
      if ((error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        throw new ExpressionLimitError(expression, `stopped at its memory limit (${this.maxHeapMb} MB of heap)`);
      }
      throw error;
    } finally {
      watchdog.stop();
    }
    return outcome;
  }

  /** Stops the threads; evaluations still running fail (their inputs are retried by whoever owns them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}

/**
 * Aborts a task once it has used `timeoutMs` of CPU on its thread, or ten times that in wall time. Until the thread has
 * started the task it is only queued (behind busy threads); once the thread has finished it, the answer is on its way
 * and only the caller's own event loop is late. Neither counts against the expression.
 */
class Watchdog {
  fired = false;
  private timer: NodeJS.Timeout;

  constructor(
    private readonly clock: SharedArrayBuffer,
    private readonly timeoutMs: number,
    private readonly abort: AbortController,
  ) {
    this.timer = setTimeout(() => this.check(), timeoutMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private check(): void {
    const progress = readProgress(this.clock);
    if (progress.state === 'finished') return;
    let left = this.timeoutMs;
    if (progress.state === 'running') {
      const wallLeft = this.timeoutMs * WALL_FACTOR - progress.wallMs;
      const cpuLeft = this.timeoutMs - (progress.cpuMs ?? progress.wallMs);
      left = Math.min(wallLeft, cpuLeft);
    }
    if (left > 0) {
      this.timer = setTimeout(() => this.check(), Math.max(left, 5));
      return;
    }
    this.fired = true;
    this.abort.abort();
  }
}
