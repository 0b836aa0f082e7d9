import type { AppConfig } from '#libs/config';
import { context, diagnosticLines, figures, headerLines, loadDiagnostics, type Measured } from './patches-report.js';
import { measureBaseline } from './scenarios/kafka-baseline.js';
import { measurePatchLoad } from './scenarios/patch-load.js';
import { measureQueuedMaterialize } from './scenarios/queued-materialize.js';
import { measureRelay } from './scenarios/relay-throughput.js';
import { idleBusy } from './support/cpu.js';
import { messageSet } from './support/messages.js';
import { figuresJson, round, table } from './support/report.js';
import { Resources, runBenchmark } from './support/resources.js';
import { createSandbox } from './support/sandbox.js';
import { readSettings, type BenchSettings } from './support/settings.js';
import { prepareBenchmark } from './support/stack-check.js';

/**
 * `npm run bench:patches`: the patch pipeline's throughput, latency and materialization figures against a Kafka-only
 * baseline on the same broker, as medians of BENCH_RUNS runs. Needs the local stack up (`npm run stack:up`). Progress
 * goes to stderr; stdout gets the table and, last, one JSON line.
 */

const write = (text: string) => process.stdout.write(`${text}\n`);

async function measure(base: AppConfig, settings: BenchSettings): Promise<Measured> {
  const measured: Measured = { load: [], queuedMs: [], relay: [], baseline: [] };
  const { scenarios } = settings;
  if (scenarios.has('load')) {
    for (let run = 1; run <= settings.runs; run++) measured.load.push(await measurePatchLoad(base, settings, run));
  }
  if (scenarios.has('queued')) measured.queuedMs.push(...(await measureQueuedMaterialize(base, settings)));
  if (scenarios.has('relay') || scenarios.has('baseline')) {
    for (let run = 1; run <= settings.runs; run++) {
      const resources = new Resources();
      try {
        const sandbox = await createSandbox(base, `relay${run}`, settings.partitions, resources);
        const messages = messageSet(settings.keys, settings.payloadBytes);
        if (scenarios.has('relay')) {
          measured.relay.push(await measureRelay(sandbox, messages, settings.relayRows, resources));
        }
        if (scenarios.has('baseline')) {
          measured.baseline.push(
            await measureBaseline(sandbox, messages, settings.baselineMessages, settings.baselineBatch, resources),
          );
        }
      } finally {
        await resources.release();
      }
    }
  }
  return measured;
}

function roundDeep(value: object): unknown {
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, typeof v === 'number' ? round(v) : roundDeep(v as object)]),
  );
}

async function main(): Promise<void> {
  const prepared = await prepareBenchmark(readSettings);
  if (!prepared) return;
  const { base, settings, facts } = prepared;
  const ctx = context(base, settings, facts, await idleBusy(1_000));
  headerLines(ctx, settings).forEach((line) => write(line));
  write('');
  const started = performance.now();
  const measured = await measure(base, settings);
  const list = figures(measured, settings);
  const diagnostics = loadDiagnostics(measured.load);

  write(table(list));
  if (diagnostics) ['', ...diagnosticLines(diagnostics)].forEach((line) => write(line));
  const failures = new Map<string, number>();
  for (const [what, count] of measured.load.flatMap((r) => Object.entries(r.failures))) {
    failures.set(what, (failures.get(what) ?? 0) + count);
  }
  if (failures.size) write(`non-202 answers during the load: ${JSON.stringify(Object.fromEntries(failures))}`);
  const seconds = (performance.now() - started) / 1000;
  write(`took ${seconds.toFixed(0)} s`);
  write(
    JSON.stringify({
      benchmark: 'patches',
      at: new Date().toISOString(),
      context: ctx,
      settings: { ...settings, scenarios: [...settings.scenarios] },
      results: figuresJson(list),
      diagnostics: diagnostics ? roundDeep(diagnostics) : null,
      loadFailures: Object.fromEntries(failures),
      seconds: round(seconds),
    }),
  );
}

await runBenchmark(main);
