import jsonata from 'jsonata';
import { ExpressionEvaluator } from '#libs/expressions';
import { reportMicroBench, RoundSamples, startMicroBench } from './support/micro-bench.js';
import { progress } from './support/progress.js';

/**
 * `npm run bench:expressions`: the cost of one JSONata evaluation in the caller's thread (jsonata compiled once and
 * kept, as the evaluator did before its pool) against ExpressionEvaluator (its thread pool, or the caller's thread for
 * an expression linear in its data), one evaluation at a time
 * (the latency a coordinator's edge or a function node pays) and with many in flight (the pool's throughput). No stack
 * needed. Progress on stderr; stdout gets the table and, last, one JSON line.
 */

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const settings = {
  runs: env('BENCH_RUNS', 5),
  evaluations: env('BENCH_EVALUATIONS', 2_000),
  inFlight: env('BENCH_IN_FLIGHT', 16),
  threads: env('BENCH_EXPRESSION_THREADS', 2),
};

const items = Array.from({ length: 200 }, (_, i) => ({ sku: `sku-${i}`, price: i % 17, qty: (i % 5) + 1 }));
/** A condition and a transform as workflows write them; the transform's data is ~10 KB of node output. */
const CASES = [
  // Linear in its data: the evaluator answers it on the caller's thread (bounded-expressions.ts).
  { key: 'when', label: '`when` (nodes.a.total > 100)', expression: 'nodes.a.total > 100', data: small() },
  // The same condition through a function call: the evaluator sends it to its threads.
  {
    key: 'when_call',
    label: '`when` with a call ($boolean(nodes.a.total > 100))',
    expression: '$boolean(nodes.a.total > 100)',
    data: small(),
  },
  {
    key: 'transform',
    label: 'function ($sum over 200 items, filter, map)',
    expression: '{"total": $sum(nodes.a.items.(price * qty)), "skus": nodes.a.items[qty > 3].sku}',
    data: { input: {}, nodes: { a: { items } } },
  },
] as const;

function small() {
  return { input: { x: 1 }, nodes: { a: { total: 120, status: 'ok' } } };
}

/** Microseconds per evaluation, `count` evaluations, at most `inFlight` at once. */
async function measure(evaluate: () => Promise<unknown>, count: number, inFlight: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < count) await evaluate();
    }),
  );
  return ((performance.now() - started) * 1_000) / count;
}

async function main(): Promise<void> {
  const busy = await startMicroBench(
    'expressions',
    `${settings.runs} runs of ${settings.evaluations} evaluations per figure`,
  );
  const samples = new RoundSamples();
  const pool = new ExpressionEvaluator({ timeoutMs: 1_000, maxDepth: 500, threads: settings.threads });
  try {
    for (let run = 1; run <= settings.runs; run++) {
      for (const c of CASES) {
        const compiled = jsonata(c.expression, { timeout: 1_000, stack: 500 });
        const inProcess = () => compiled.evaluate(c.data) as Promise<unknown>;
        const pooled = () => pool.evaluate(c.expression, c.data);
        // Warm-up: V8's optimizer, the threads' compiled-expression caches.
        await measure(inProcess, 200, 1);
        await measure(pooled, 200, settings.inFlight);
        const figures = {
          [`${c.key}.in_process`]: await measure(inProcess, settings.evaluations, 1),
          [`${c.key}.pool_one_at_a_time`]: await measure(pooled, settings.evaluations, 1),
          [`${c.key}.pool_in_flight`]: await measure(pooled, settings.evaluations, settings.inFlight),
        };
        for (const [key, value] of Object.entries(figures)) samples.record(key, value);
        progress(
          `run ${run} ${c.key}: ${Object.values(figures)
            .map((v) => v.toFixed(1))
            .join(' / ')} µs`,
        );
      }
    }
  } finally {
    await pool.close();
  }
  const labels = {
    in_process: 'in-process jsonata, one at a time',
    pool_one_at_a_time: `ExpressionEvaluator (${settings.threads} threads), one at a time`,
    pool_in_flight: `ExpressionEvaluator (${settings.threads} threads), ${settings.inFlight} in flight`,
  } as const;
  const modes = Object.keys(labels) as (keyof typeof labels)[];
  const figures = samples.figures(CASES, modes, (c, mode) => ({
    label: `${c.label}: ${labels[mode]}`,
    unit: 'µs/eval',
  }));
  reportMicroBench(settings, busy, figures);
}

await main();
