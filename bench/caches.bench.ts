import { mkdirSync } from 'node:fs';
import type { AppConfig } from '#libs/config';
import { migrate, VECTOR_MIGRATIONS_DIR } from '#libs/db';
import {
  measureExactLookups,
  measureSemanticLookups,
  type ExactLookupRun,
  type LookupLatency,
  type SemanticLookupRun,
} from './scenarios/cache-lookups.js';
import { measureCacheRuns, type CacheMode, type CacheRunsRun, type CacheWorkload } from './scenarios/cache-runs.js';
import { idleBusy } from './support/cpu.js';
import { profileLines, summarizeProfiles } from './support/cpu-profile.js';
import { figuresJson, round, table, type Figure } from './support/report.js';
import { runBenchmark } from './support/resources.js';
import { readCacheSettings, type CacheBenchSettings } from './support/settings.js';
import { prepareBenchmark } from './support/stack-check.js';
import { summarize } from './support/stats.js';

/**
 * `npm run bench:caches`: what the caches save a team, beside the same workload without them (the baseline, measured in
 * the same invocation): users of one workspace running an agent node with similar questions against a slow model, and
 * an http_request node against a slow server, one after another; then the exact cache's own lookup latency. Medians of
 * BENCH_RUNS runs. Needs the local stack up (`npm run stack:up`).
 */

const write = (text: string) => process.stdout.write(`${text}\n`);

const MODES: Record<CacheWorkload, readonly CacheMode[]> = {
  agent: ['off', 'exact', 'semantic'],
  http: ['off', 'exact'],
};

interface Measured {
  runs: CacheRunsRun[];
  lookups: ExactLookupRun[];
  semantic: SemanticLookupRun[];
}

async function measure(base: AppConfig, settings: CacheBenchSettings): Promise<Measured> {
  const measured: Measured = { runs: [], lookups: [], semantic: [] };
  // Every sandbox shares the vector database (workspaces keep them apart): migrated once, as the tests do.
  if (settings.scenarios.has('agent') || settings.scenarios.has('lookup')) {
    await migrate(base.VECTOR_DATABASE_URL, VECTOR_MIGRATIONS_DIR);
  }
  for (const workload of ['agent', 'http'] as const) {
    if (!settings.scenarios.has(workload)) continue;
    // Modes interleaved run by run, so drift on the machine spreads over all of them alike.
    for (let run = 1; run <= settings.runs; run++) {
      for (const mode of MODES[workload]) {
        measured.runs.push(await measureCacheRuns(base, settings, workload, mode, run));
      }
    }
  }
  if (settings.scenarios.has('lookup')) {
    for (let run = 1; run <= settings.runs; run++) {
      measured.lookups.push(await measureExactLookups(base, settings.lookups));
      measured.semantic.push(await measureSemanticLookups(base, settings.semanticLookups));
    }
  }
  return measured;
}

function figures(measured: Measured): Figure[] {
  const list: Figure[] = [];
  const add = (key: string, label: string, unit: string, values: number[], decimals = 0) => {
    if (values.length) list.push({ key, label, unit, summary: summarize(values), decimals });
  };
  for (const workload of ['agent', 'http'] as const) {
    for (const mode of MODES[workload]) {
      const runs = measured.runs.filter((r) => r.workload === workload && r.mode === mode);
      if (!runs.length) continue;
      const users = runs[0]?.perUserMs.length ?? 0;
      const name = `${workload}, cache ${mode}`;
      add(
        `${workload}.${mode}.totalMs`,
        `${name}: ${users} users one after another, total`,
        'ms',
        runs.map((r) => r.totalMs),
      );
      add(
        `${workload}.${mode}.upstreamCalls`,
        `${name}: upstream calls`,
        'calls',
        runs.map((r) => r.upstreamCalls),
      );
      if (workload === 'agent') {
        add(
          `${workload}.${mode}.tokens`,
          `${name}: tokens billed`,
          'tokens',
          runs.map((r) => r.tokensBilled),
        );
      }
      add(
        `${workload}.${mode}.nodeMeanMs`,
        `${name}: time in the node, mean`,
        'ms',
        runs.map((r) => r.nodeMeanMs),
        1,
      );
      for (const part of ['service', 'postgres'] as const) {
        add(
          `${workload}.${mode}.cpu.${part}`,
          `${name}: ${part} CPU per run, less idle`,
          'ms',
          runs.map((r) => r.cpuMsPerRun[part]),
          1,
        );
      }
    }
  }
  // p50 and p99 of each kind of lookup, over the runs.
  const latencies = <K extends string>(
    key: string,
    runs: readonly NoInfer<Record<K, LookupLatency>>[],
    labels: Record<K, string>,
  ) => {
    for (const kind of Object.keys(labels) as K[]) {
      for (const q of ['p50', 'p99'] as const) {
        add(
          `${key}.${kind}.${q}`,
          `${labels[kind]}: ${q}`,
          'ms',
          runs.map((l) => l[kind][`${q}Ms`]),
          3,
        );
      }
    }
  };
  latencies('lookup', measured.lookups, {
    hit: 'exact lookup, hit',
    miss: 'exact lookup, miss + lease + store',
    bare: 'no cache (node only)',
  });
  latencies('semantic', measured.semantic, {
    embed: 'semantic: embedding only (stand-in API)',
    hit: 'semantic lookup, hit',
    miss: 'semantic lookup, miss + store',
  });
  return list;
}

async function main(): Promise<void> {
  const prepared = await prepareBenchmark(readCacheSettings);
  if (!prepared) return;
  const { base, settings, facts } = prepared;
  if (settings.cpuProfileDir) mkdirSync(settings.cpuProfileDir, { recursive: true });
  const busy = await idleBusy(1_000);
  write(`bench:caches — ${new Date().toISOString()}`);
  write(
    `Postgres ${facts.postgresVersion}; ${settings.users} users; model ${settings.llmLatencyMs} ms; ` +
      `HTTP server ${settings.httpLatencyMs} ms; ${settings.runs} runs per figure; ` +
      `cores busy before the start: ${busy.toFixed(2)}`,
  );
  write('');
  const started = performance.now();
  const measured = await measure(base, settings);
  const list = figures(measured);
  write(table(list));
  if (settings.cpuProfileDir) {
    for (const workload of ['agent', 'http'] as const) {
      for (const mode of MODES[workload]) {
        const windows = measured.runs
          .filter((r) => r.workload === workload && r.mode === mode)
          .map((r) => r.profileWindow);
        if (!windows.length) continue;
        const summary = summarizeProfiles(settings.cpuProfileDir, windows);
        ['', ...profileLines(`CPU profile, ${workload}, cache ${mode}`, summary)].forEach(write);
      }
    }
  }
  const failed = measured.runs.filter((r) => r.notCompleted > 0);
  if (failed.length)
    write(`\n${failed.length} measurement(s) had runs that did not complete: their figures are suspect`);
  const seconds = (performance.now() - started) / 1000;
  write(`took ${seconds.toFixed(0)} s`);
  write(
    JSON.stringify({
      benchmark: 'caches',
      at: new Date().toISOString(),
      settings: { ...settings, scenarios: [...settings.scenarios] },
      results: figuresJson(list),
      runs: measured.runs.map(({ profileWindow: _window, ...rest }) => rest),
      lookups: measured.lookups,
      semantic: measured.semantic,
      seconds: round(seconds),
    }),
  );
}

await runBenchmark(main);
