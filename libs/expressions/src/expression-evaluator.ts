import { Piscina } from 'piscina';
import { ExpressionError, ExpressionLimitError } from './expression-errors.js';
import type { EvaluationOutcome, EvaluationTask } from './expression-thread.js';

export interface ExpressionLimits {
  /** Wall time of one evaluation, counted from when a thread starts it. */
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

/**
 * Evaluates user JSONata (edge conditions in the coordinator, `function` nodes and prompt placeholders in the worker)
 * in a pool of worker threads, never on the caller's event loop. jsonata checks its time and stack limits only between
 * its own steps, and its built-ins ($distinct, $pad, $join, regexes) run natively for as long as they like; on a
 * thread, such an expression is stopped from outside: past its time limit its thread is terminated (and replaced),
 * and the caller gets an ExpressionLimitError. Memory is bounded by that time limit, a result budget, size checks in
 * the string built-ins (guarded-builtins.ts) and, as a backstop, a heap cap per thread. Regexes run on
 * a linear-time engine (linear-regex.ts), so they never need that.
 *
 * The threads stay up, each with its compiled expressions, so an evaluation costs a message each way (bench/README.md
 * has the figure).
 */
export class ExpressionEvaluator {
  private readonly pool: Piscina<EvaluationTask, EvaluationOutcome>;
  private readonly limits: EvaluationTask['limits'];
  private readonly maxHeapMb: number;
  private closed = false;

  constructor(limits: ExpressionLimits = { timeoutMs: 1_000, maxDepth: 500 }) {
    const threads = limits.threads ?? DEFAULTS.threads;
    this.maxHeapMb = limits.maxHeapMb ?? DEFAULTS.maxHeapMb;
    this.limits = {
      timeoutMs: limits.timeoutMs,
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
    void Promise.all(Array.from({ length: threads }, () => this.evaluate('true', null))).catch(() => undefined);
  }

  async evaluate(expression: string, data: unknown): Promise<unknown> {
    if (this.closed) throw new Error('the expression evaluator is closed');
    const startedAt = new SharedArrayBuffer(8);
    const abort = new AbortController();
    const watchdog = new Watchdog(new BigInt64Array(startedAt), this.limits.timeoutMs, abort);
    let outcome: EvaluationOutcome;
    try {
      outcome = await this.pool.run({ expression, data, limits: this.limits, startedAt }, { signal: abort.signal });
    } catch (error) {
      if (watchdog.fired) {
        throw new ExpressionLimitError(expression, `stopped after ${this.limits.timeoutMs} ms (its time limit)`);
      }
      if ((error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        throw new ExpressionLimitError(expression, `stopped at its memory limit (${this.maxHeapMb} MB of heap)`);
      }
      throw error;
    } finally {
      watchdog.stop();
    }
    if (!outcome.ok) {
      throw outcome.limit
        ? new ExpressionLimitError(expression, outcome.message)
        : new ExpressionError(expression, outcome.message);
    }
    return outcome.json === undefined ? undefined : (JSON.parse(outcome.json) as unknown);
  }

  /** Stops the threads; evaluations still running fail (their inputs are retried by whoever owns them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}

/**
 * Aborts a task once it has run `timeoutMs` on its thread. The thread records when it started; until it has, the task
 * is only queued (behind busy threads) and the watchdog just looks again later.
 */
class Watchdog {
  fired = false;
  private timer: NodeJS.Timeout;

  constructor(
    private readonly startedAt: BigInt64Array,
    private readonly timeoutMs: number,
    private readonly abort: AbortController,
  ) {
    this.timer = setTimeout(() => this.check(), timeoutMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private check(): void {
    const started = Number(Atomics.load(this.startedAt, 0));
    const left = started === 0 ? this.timeoutMs : started + this.timeoutMs - Date.now();
    if (left > 0) {
      this.timer = setTimeout(() => this.check(), left);
      return;
    }
    this.fired = true;
    this.abort.abort();
  }
}
