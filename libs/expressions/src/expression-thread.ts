import jsonata from 'jsonata';
import { describeJsonataError } from './expression-errors.js';
import { guardBuiltins, jsonExceeds } from './guarded-builtins.js';
import { LinearRegExp } from './linear-regex.js';
import { markFinished, markStarted } from './thread-clock.js';

/** One evaluation, as the pool hands it to a thread. */
export interface EvaluationTask {
  readonly expression: string;
  readonly data: unknown;
  readonly limits: {
    /** Wall time, past which jsonata stops the expression between its steps; the caller's watchdog counts CPU time. */
    readonly wallTimeoutMs: number;
    readonly maxDepth: number;
    readonly maxResultBytes: number;
  };
  /** Where the thread says when it started and finished (thread-clock.ts), for the caller's watchdog. */
  readonly clock: SharedArrayBuffer;
}

/**
 * What comes back: the result as JSON (what the platform stores anyway, and safe to send whatever jsonata returned,
 * functions included) or the error in words. Thrown values do not survive the trip between threads intact.
 */
export type EvaluationOutcome =
  | { readonly ok: true; readonly json: string | undefined }
  | { readonly ok: false; readonly limit: boolean; readonly message: string };

type Compiled = ReturnType<typeof jsonata>;

/** jsonata's codes for its own stack and time guards. */
const LIMIT_CODES = new Set(['D1011', 'D1012']);
const MAX_COMPILED = 10_000;
const compiled = new Map<string, Compiled>();

/**
 * Runs in a pool thread (piscina calls the default export). Compiled expressions are kept per thread: compiling is far
 * dearer than evaluating, and a workflow's expressions repeat on every run. jsonata's own timeout and stack guard stay
 * on, as they stop a runaway between steps without costing the thread; the pool kills what they cannot stop. jsonata's
 * clock is a wall clock, so it gets the watchdog's wall limit: given the CPU limit, it would fail innocent expressions
 * on a starved machine.
 */
export default async function evaluateInThread(task: EvaluationTask): Promise<EvaluationOutcome> {
  markStarted(task.clock);
  try {
    return await evaluateHere(task);
  } finally {
    markFinished(task.clock);
  }
}

/**
 * One evaluation on whichever thread calls it: a pool thread for any expression, the evaluator's caller for bounded
 * ones (bounded-expressions.ts), so both give the same results and errors.
 */
export async function evaluateHere(task: Omit<EvaluationTask, 'clock'>): Promise<EvaluationOutcome> {
  const { expression, limits } = task;
  let json: string | undefined;
  try {
    const result: unknown = await compile(expression, limits).evaluate(task.data);
    if (jsonExceeds(result, limits.maxResultBytes)) {
      return { ok: false, limit: true, message: `the result is over ${limits.maxResultBytes} bytes as JSON` };
    }
    json = JSON.stringify(result);
  } catch (error) {
    // A RangeError is V8 refusing a string, array or stack past its size: a limit, not a mistake in the expression.
    const limit = error instanceof RangeError || LIMIT_CODES.has((error as { code?: unknown } | null)?.code as string);
    return { ok: false, limit, message: error instanceof Error ? error.message : describeJsonataError(error) };
  }
  if (json !== undefined && json.length > limits.maxResultBytes / 3) {
    const bytes = Buffer.byteLength(json);
    if (bytes > limits.maxResultBytes) {
      return { ok: false, limit: true, message: `the result of ${bytes} bytes is over ${limits.maxResultBytes} bytes` };
    }
  }
  return { ok: true, json };
}

function compile(expression: string, limits: EvaluationTask['limits']): Compiled {
  let expr = compiled.get(expression);
  if (!expr) {
    expr = jsonata(expression, {
      timeout: limits.wallTimeoutMs,
      stack: limits.maxDepth,
      RegexEngine: LinearRegExp as unknown as RegExpConstructor,
    });
    guardBuiltins(expr, limits.maxResultBytes);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(expression, expr);
  }
  return expr;
}
