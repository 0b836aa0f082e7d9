import { cpus, hostname, release, totalmem } from 'node:os';
import type { AppConfig } from '#libs/config';
import { measureBaseline, measureRoundTrip, type BaselineRun, type RoundTripRun } from './scenarios/kafka-baseline.js';
import { measureScalePatches, measureScaleRuns, type InstanceFigures, type ScaleRun } from './scenarios/scale-load.js';
import { cpuBudgets, type CpuBudgets } from './support/cpu-budget.js';
import { idleBusy } from './support/cpu.js';
import { messageSet } from './support/messages.js';
import { progress } from './support/progress.js';
import { round } from './support/report.js';
import { Resources, runBenchmark } from './support/resources.js';
import { createSandbox } from './support/sandbox.js';
import { readScaleSettings, type ScaleBenchSettings } from './support/settings.js';
import { prepareBenchmark } from './support/stack-check.js';
import { summarize, type Summary } from './support/stats.js';

/**
 * `npm run bench:scale`: throughput with 1, 2, 4 (BENCH_SCALE_STEPS) instances of the scaled roles, each instance a
 * process of its own in a cgroup of its own with a fixed CPU budget (BENCH_SCALE_CPU cores): completed runs/s with N
 * coordinators and N function workers, applied patches/s with N materializers; medians of BENCH_SCALE_REPEATS
 * measurements, the scaling factor per step, CPU per unit and throttling per instance, and the raw kafkajs baselines on
 * the same broker. Needs the local stack up and a writable cgroup hierarchy (root). Progress goes to stderr; stdout
 * gets the tables and, last, one JSON line.
 */

const write = (text: string) => process.stdout.write(`${text}\n`);

interface Measured {
  readonly runs: Map<number, ScaleRun[]>;
  readonly patches: Map<number, ScaleRun[]>;
  readonly roundTrip: RoundTripRun[];
  readonly baseline: BaselineRun[];
}

/** Repeats outermost and steps inside, so drift in the machine's other load spreads over every step alike. */
async function measure(base: AppConfig, settings: ScaleBenchSettings, budgets: CpuBudgets): Promise<Measured> {
  const measured: Measured = { runs: new Map(), patches: new Map(), roundTrip: [], baseline: [] };
  const push = (map: Map<number, ScaleRun[]>, run: ScaleRun) =>
    map.set(run.instances, [...(map.get(run.instances) ?? []), run]);
  for (let repeat = 1; repeat <= settings.repeats; repeat++) {
    progress(`repeat ${repeat} of ${settings.repeats}`);
    if (settings.scenarios.has('baseline')) {
      const resources = new Resources();
      try {
        const sandbox = await createSandbox(base, `scalertt${repeat}`, settings.partitions, resources);
        const messages = messageSet(settings.keys, settings.payloadBytes);
        measured.roundTrip.push(
          await measureRoundTrip(
            sandbox,
            messages,
            {
              sequential: settings.rttMessages,
              pipelined: settings.rttPipelinedMessages,
              window: settings.rttWindow,
              maxWaitMs: sandbox.config.WORKER_MAX_WAIT_MS,
            },
            resources,
          ),
        );
        measured.baseline.push(
          await measureBaseline(sandbox, messages, settings.baselineMessages, settings.baselineBatch, resources),
        );
      } finally {
        await resources.release();
      }
    }
    for (const n of settings.steps) {
      if (settings.scenarios.has('runs'))
        push(measured.runs, await measureScaleRuns(base, settings, budgets, n, repeat));
      if (settings.scenarios.has('patches')) {
        push(measured.patches, await measureScalePatches(base, settings, budgets, n, repeat));
      }
    }
  }
  return measured;
}

const fmt = (value: number, decimals = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    : 'n/a';
const spread = (s: Summary, decimals = 0) =>
  `${fmt(s.median, decimals)} (${fmt(s.min, decimals)}–${fmt(s.max, decimals)})`;
const median = (values: number[]) => summarize(values).median;

/** A markdown table (pasted into bench/README.md as it is). */
function markdown(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows as [string[], ...string[][]];
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body.map(line)];
}

interface StepSummary {
  readonly instances: number;
  readonly perSecond: Summary;
  /** Median at N over median at the step before (NaN for the first step), and what linear scaling would give. */
  readonly factor: number;
  readonly linear: number;
  readonly roles: Record<
    string,
    { cores: number; budget: number; cpuMsPerUnit: number; throttledShare: number; throttledMsPerSecond: number }
  >;
  readonly support: Record<string, number>;
  readonly postgres: number;
  readonly java: number;
  readonly busy: number;
  /** Cores busy with work that is not this benchmark's (other people's tests on a shared machine). */
  readonly other: number;
  readonly rebalancedRuns: number;
  readonly patchesPerVersion: number;
  readonly stableAfterS: number;
  readonly warmupS: number;
  readonly latencyP50Ms: number;
}

function summarizeSteps(byStep: Map<number, ScaleRun[]>): StepSummary[] {
  const steps: StepSummary[] = [];
  for (const [instances, runs] of [...byStep].sort(([a], [b]) => a - b)) {
    const perSecond = summarize(runs.map((r) => r.perSecond));
    const previous = steps[steps.length - 1];
    const roleNames = [...new Set(runs.flatMap((r) => r.budgeted.map((i) => i.role)))];
    const perRole = (role: string, f: (i: InstanceFigures) => number) =>
      // Per measurement the mean over the role's instances, then the median over measurements.
      median(
        runs.map((r) => {
          const list = r.budgeted.filter((i) => i.role === role);
          return list.reduce((sum, i) => sum + f(i), 0) / list.length;
        }),
      );
    steps.push({
      instances,
      perSecond,
      factor: previous ? perSecond.median / previous.perSecond.median : Number.NaN,
      linear: previous ? instances / previous.instances : Number.NaN,
      roles: Object.fromEntries(
        roleNames.map((role) => [
          role,
          {
            cores: perRole(role, (i) => i.cores),
            budget: perRole(role, (i) => i.budgetCores),
            cpuMsPerUnit: median(
              runs.map((r) => r.budgeted.filter((i) => i.role === role).reduce((sum, i) => sum + i.cpuMsPerUnit, 0)),
            ),
            throttledShare: perRole(role, (i) => i.throttledShare),
            throttledMsPerSecond: perRole(role, (i) => i.throttledMsPerSecond),
          },
        ]),
      ),
      support: Object.fromEntries(
        Object.keys(runs[0]?.support ?? {}).map((role) => [role, median(runs.map((r) => r.support[role] ?? 0))]),
      ),
      postgres: median(runs.map((r) => r.cpu.postgres)),
      java: median(runs.map((r) => r.cpu.java)),
      busy: median(runs.map((r) => r.cpu.busy)),
      // CpuShare counts the budgeted instances (not among the pids it was given) as other: take them out.
      other: median(runs.map((r) => r.cpu.other - r.budgeted.reduce((sum, i) => sum + i.cores, 0))),
      rebalancedRuns: runs.filter((r) => !r.membersUnchanged).length,
      patchesPerVersion: median(runs.map((r) => r.patchesPerVersion)),
      stableAfterS: median(runs.map((r) => r.stableAfterS)),
      warmupS: median(runs.map((r) => r.warmupS)),
      latencyP50Ms: median(runs.map((r) => r.latencyP50Ms)),
    });
  }
  return steps;
}

function stepTable(title: string, unit: string, steps: StepSummary[], cpuUnit: string): string[] {
  if (!steps.length) return [];
  const roles = Object.keys(steps[0]?.roles ?? {});
  const support = Object.keys(steps[0]?.support ?? {});
  const rows: string[][] = [
    [
      'N',
      unit,
      'factor (linear)',
      ...roles.flatMap((r) => [`${r}: cores each`, `throttled`, `CPU ms/${cpuUnit} (all ${r}s)`]),
      ...support.map((s) => `${s} cores`),
      'postgres / kafka+registry / not ours / machine cores',
    ],
    ...steps.map((s) => [
      String(s.instances),
      spread(s.perSecond),
      Number.isFinite(s.factor) ? `${fmt(s.factor, 2)} (${fmt(s.linear, 0)})` : '–',
      ...roles.flatMap((r) => {
        const f = s.roles[r];
        return f
          ? [
              `${fmt(f.cores, 2)} of ${fmt(f.budget, 2)}`,
              `${fmt(f.throttledShare * 100, 0)} % of periods`,
              fmt(f.cpuMsPerUnit, 2),
            ]
          : ['', '', ''];
      }),
      ...support.map((name) => fmt(s.support[name] ?? Number.NaN, 2)),
      `${fmt(s.postgres, 2)} / ${fmt(s.java, 2)} / ${fmt(s.other, 2)} / ${fmt(s.busy, 2)}`,
    ]),
  ];
  const notes = steps.flatMap((s) => [
    ...(s.rebalancedRuns
      ? [`N=${s.instances}: group members changed inside the window in ${s.rebalancedRuns} run(s)`]
      : []),
  ]);
  const extra = steps
    .map(
      (s) =>
        `N=${s.instances}: groups stable ${fmt(s.stableAfterS, 0)} s after the spawn, warm-up ${fmt(s.warmupS, 0)} s` +
        (Number.isFinite(s.latencyP50Ms) ? `, run latency p50 ${fmt(s.latencyP50Ms, 0)} ms` : '') +
        (Number.isFinite(s.patchesPerVersion) ? `, ${fmt(s.patchesPerVersion, 1)} patches per version` : ''),
    )
    .join('; ');
  return [title, '', ...markdown(rows), '', extra, ...notes];
}

function machine(): string {
  const list = cpus();
  return `${hostname()}: ${list.length} × ${list[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
}

async function main(): Promise<void> {
  const prepared = await prepareBenchmark(readScaleSettings);
  if (!prepared) return;
  const { base, settings, facts } = prepared;
  let budgets: CpuBudgets;
  try {
    budgets = cpuBudgets();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const idle = await idleBusy(1_000);
  const header = [
    `bench:scale ${new Date().toISOString()} on ${machine()}`,
    `Postgres ${facts.postgresVersion} (synchronous_commit ${facts.synchronousCommit}), Kafka ${base.KAFKA_BROKERS.join(',')}; ` +
      `${idle.toFixed(2)} cores busy before the start (other work on the machine)`,
    `budget: ${settings.cpu} core per coordinator, function worker and materializer instance, ${budgets.describe}; ` +
      'api, outbox-relay and run-projector one process each, unbudgeted',
    `steps ${settings.steps.join(', ')}; ${settings.repeats} repeat(s); window ${settings.durationMs / 1000} s after ` +
      `${settings.warmupMs / 1000} s of warm-up; runs: ${settings.concurrency} 3-node chains in flight over ` +
      `${settings.runWorkflows} workflows; patches: ${settings.backlogPerInstance} queued per materializer over ` +
      `${settings.workflows} workflows per materializer, worked off from the resume until none is pending`,
    `partitions: ${settings.partitions} on every topic (patch.created, run.requested, node.completed, run.control, ` +
      'node.dispatch.function, run.state, run.events)',
  ];
  header.forEach(write);
  write('');
  const started = performance.now();
  const measured = await measure(base, settings, budgets);
  const runSteps = summarizeSteps(measured.runs);
  const patchSteps = summarizeSteps(measured.patches);
  [
    ...stepTable('Runs: N coordinators + N function workers (completed 3-node runs/s)', 'runs/s', runSteps, 'run'),
    '',
    ...stepTable('Patches: N materializers (applied patches/s)', 'patches/s', patchSteps, 'patch'),
  ].forEach(write);
  if (measured.roundTrip.length) {
    const rt = (f: (r: RoundTripRun) => number) => spread(summarize(measured.roundTrip.map(f)), 2);
    const bl = (f: (r: BaselineRun) => number) => spread(summarize(measured.baseline.map(f)));
    write('');
    write(
      `raw kafkajs on the same broker: produce→consume one at a time p50 ${rt((r) => r.roundTripP50Ms)} ms; ` +
        `${settings.rttWindow} in flight ${spread(summarize(measured.roundTrip.map((r) => r.pipelinedPerSecond)))} msgs/s; ` +
        `batches of ${settings.baselineBatch} produce+consume ${bl((r) => r.produceConsumePerSecond)} msgs/s`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  write(`took ${seconds.toFixed(0)} s`);
  const roundDeep = (value: unknown): unknown => {
    if (typeof value === 'number') return round(value);
    if (Array.isArray(value)) return value.map(roundDeep);
    if (value instanceof Map) return roundDeep(Object.fromEntries(value));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)]));
    }
    return value;
  };
  write(
    JSON.stringify({
      benchmark: 'scale',
      at: new Date().toISOString(),
      machine: machine(),
      idleBusyBefore: round(idle),
      budgets: budgets.describe,
      settings: { ...settings, scenarios: [...settings.scenarios] },
      steps: roundDeep({ runs: runSteps, patches: patchSteps }),
      runs: roundDeep({ runs: measured.runs, patches: measured.patches }),
      baseline: roundDeep({ roundTrip: measured.roundTrip, batches: measured.baseline }),
      seconds: round(seconds),
    }),
  );
}

await runBenchmark(main);
