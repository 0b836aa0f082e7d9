import { mkdirSync } from 'node:fs';
import type { AppConfig } from '#libs/config';
import {
  runContext,
  runDiagnosticLines,
  runDiagnostics,
  runFigures,
  runGroups,
  runHeaderLines,
  chainCases,
  type RunMeasured,
} from './runs-report.js';
import { measureRoundTrip } from './scenarios/kafka-baseline.js';
import { measureChainLoop } from './scenarios/kafka-chain.js';
import { measureRunLoad, type RunLoadRun } from './scenarios/run-load.js';
import { idleBusy } from './support/cpu.js';
import { profileLines, summarizeProfiles, type ProfileSummary } from './support/cpu-profile.js';
import { messageSet } from './support/messages.js';
import { figuresJson, round, table } from './support/report.js';
import { Resources, runBenchmark } from './support/resources.js';
import { createSandbox, type Sandbox } from './support/sandbox.js';
import { readRunSettings, SettingsError, type RunBenchSettings } from './support/settings.js';
import { prepareBenchmark } from './support/stack-check.js';

/**
 * `npm run bench:runs`: 3-node function-chain runs through api, outbox relay, coordinator and worker, at the most the
 * pipeline completes (closed loop) and at a fixed rate below that, with the Kafka round trip on the same broker as the
 * baseline; medians of BENCH_RUNS runs. Needs the local stack up (`npm run stack:up`). Progress goes to stderr; stdout
 * gets the table, the diagnostics and, last, one JSON line.
 */

const write = (text: string) => process.stdout.write(`${text}\n`);

/** One measurement on a sandbox of its own (a fresh database and topics), removed afterwards. */
async function inSandbox<T>(
  base: AppConfig,
  name: string,
  partitions: number,
  measure: (sandbox: Sandbox, resources: Resources) => Promise<T>,
): Promise<T> {
  const resources = new Resources();
  try {
    return await measure(await createSandbox(base, name, partitions, resources), resources);
  } finally {
    await resources.release();
  }
}

async function measure(base: AppConfig, settings: RunBenchSettings): Promise<RunMeasured> {
  const measured: RunMeasured = { idle: [], max: [], rate: [], baseline: [], chain: [] };
  const { scenarios } = settings;
  if (scenarios.has('baseline')) {
    for (let run = 1; run <= settings.runs; run++) {
      measured.baseline.push(
        await inSandbox(base, `rtt${run}`, settings.partitions, (sandbox, resources) =>
          measureRoundTrip(
            sandbox,
            messageSet(settings.keys, settings.payloadBytes),
            {
              sequential: settings.rttMessages,
              pipelined: settings.rttPipelinedMessages,
              window: settings.rttWindow,
              maxWaitMs: sandbox.config.WORKER_MAX_WAIT_MS,
            },
            resources,
          ),
        ),
      );
    }
  }
  if (scenarios.has('chain')) {
    for (const { load, transactional, records } of chainCases(settings)) {
      for (let run = 1; run <= settings.runs; run++) {
        measured.chain.push(
          await inSandbox(base, `chain${run}`, settings.partitions, (sandbox, resources) =>
            measureChainLoop(
              sandbox,
              {
                load,
                warmupMs: settings.warmupMs,
                durationMs: settings.durationMs,
                coordinatorMaxWaitMs: sandbox.config.COORDINATOR_MAX_WAIT_MS,
                workerMaxWaitMs: sandbox.config.WORKER_MAX_WAIT_MS,
                transactional,
                records,
              },
              resources,
            ),
          ),
        );
      }
    }
  }
  if (scenarios.has('idle')) {
    for (let run = 1; run <= settings.runs; run++) {
      measured.idle.push(await measureRunLoad(base, settings, { kind: 'idle', runs: settings.idleRuns }, run));
    }
  }
  if (scenarios.has('max')) {
    for (let run = 1; run <= settings.runs; run++) {
      measured.max.push(await measureRunLoad(base, settings, { kind: 'max', concurrency: settings.concurrency }, run));
    }
  }
  if (scenarios.has('rate')) {
    for (const rate of settings.rates) {
      for (let run = 1; run <= settings.runs; run++) {
        measured.rate.push(await measureRunLoad(base, settings, { kind: 'rate', rate }, run));
      }
    }
  }
  return measured;
}

function roundDeep(value: unknown): unknown {
  if (typeof value === 'number') return round(value);
  if (Array.isArray(value)) return value.map(roundDeep);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)]));
  }
  return value;
}

function profiles(settings: RunBenchSettings, runs: readonly RunLoadRun[]): ProfileSummary | undefined {
  if (!settings.cpuProfileDir || !runs.length) return undefined;
  return summarizeProfiles(
    settings.cpuProfileDir,
    runs.map((r) => r.profileWindow),
  );
}

async function main(): Promise<void> {
  const prepared = await prepareBenchmark(readRunSettings);
  if (!prepared) return;
  const { base, settings, facts } = prepared;
  if (settings.cpuProfileDir) mkdirSync(settings.cpuProfileDir, { recursive: true });
  const ctx = runContext(base, settings, facts, await idleBusy(1_000));
  runHeaderLines(ctx, settings).forEach((line) => write(line));
  write('');
  const started = performance.now();
  let measured: RunMeasured;
  try {
    measured = await measure(base, settings);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  const list = runFigures(measured, settings);
  write(table(list));
  const groups = runGroups(measured, settings);
  const diagnostics = Object.fromEntries(groups.map((g) => [g.key, runDiagnostics(g.runs)]));
  for (const { key, title } of groups) {
    const d = diagnostics[key];
    if (d) ['', ...runDiagnosticLines(`${title}, during the window`, d, settings)].forEach(write);
  }
  const all = groups.flatMap((g) => g.runs);
  if (all.some((r) => Object.values(r.hops).some((h) => h.p99Ms === Infinity))) {
    write('\n(a hop quantile above the last bucket, 5000 ms, shows as n/a)');
  }
  const profileSummaries = Object.fromEntries(
    groups.map((g) => [g.key, profiles(settings, g.runs)] as const).filter(([, p]) => p),
  );
  for (const { key, title } of groups) {
    const summary = profileSummaries[key];
    if (summary) ['', ...profileLines(`CPU profile, ${title}`, summary)].forEach(write);
  }
  const seconds = (performance.now() - started) / 1000;
  write(`took ${seconds.toFixed(0)} s`);
  const strip = (runs: RunLoadRun[]) => runs.map(({ profileWindow: _window, ...rest }) => rest);
  write(
    JSON.stringify({
      benchmark: 'runs',
      at: new Date().toISOString(),
      context: ctx,
      settings: { ...settings, scenarios: [...settings.scenarios] },
      results: figuresJson(list),
      diagnostics: roundDeep(diagnostics),
      runs: roundDeep({
        idle: strip(measured.idle),
        max: strip(measured.max),
        rate: strip(measured.rate),
        baseline: measured.baseline,
        chain: measured.chain,
      }),
      profiles: Object.keys(profileSummaries).length ? roundDeep(profileSummaries) : null,
      seconds: round(seconds),
    }),
  );
}

await runBenchmark(main);
