import { context } from './patches-report.js';
import type { AppConfig } from '#libs/config';
import type { RoundTripRun } from './scenarios/kafka-baseline.js';
import {
  chainCaseKey,
  chainLoadLabel,
  type ChainCase,
  type ChainLoopRun,
  type ChainRecords,
} from './scenarios/kafka-chain.js';
import { modeLabel, type RunDiagnostics, type RunLoadRun } from './scenarios/run-load.js';
import type { CpuShare } from './support/cpu.js';
import { atLeast, atMost, type Figure, type Target } from './support/report.js';
import type { RunBenchSettings } from './support/settings.js';
import type { StackFacts } from './support/stack-check.js';
import { summarize } from './support/stats.js';

/** What the run benchmark measured: every run of every scenario (the fixed rates' runs each carry their rate). */
export interface RunMeasured {
  readonly idle: RunLoadRun[];
  readonly max: RunLoadRun[];
  readonly rate: RunLoadRun[];
  readonly baseline: RoundTripRun[];
  readonly chain: ChainLoopRun[];
}

/** Kafka hops on a 3-node chain's critical path: run.requested, then per node a dispatch and a completion. */
export const CHAIN_KAFKA_HOPS = 7;
/** Of which written in a coordinator's transaction: the three dispatches and the run's last events. */
export const CHAIN_TRANSACTIONS = 4;

/**
 * The floor's cases: in the closed loop the critical path in plain sends, in transactions, then with the platform's
 * other records (what each costs); at the fixed rates the critical path in plain sends, all the platform's records in
 * plain sends, and the platform's shape (all records, in transactions); one at a time the platform's shape.
 */
export function chainCases(settings: RunBenchSettings): ChainCase[] {
  const full = { transactional: true, records: 'state+events' } as const;
  const closed = { kind: 'closed', concurrency: settings.concurrency } as const;
  return [
    { load: { kind: 'closed', concurrency: 1 }, ...full },
    { load: closed, transactional: false, records: 'tasks' },
    { load: closed, transactional: true, records: 'tasks' },
    { load: closed, transactional: true, records: 'state' },
    { load: closed, ...full },
    ...settings.rates.flatMap((rate) => [
      { load: { kind: 'rate', rate } as const, transactional: false, records: 'tasks' } as const,
      { load: { kind: 'rate', rate } as const, transactional: false, records: 'state+events' } as const,
      { load: { kind: 'rate', rate } as const, ...full },
    ]),
  ];
}

const CHAIN_LABELS: Record<ChainRecords, string> = {
  tasks: '',
  state: ' + a changelog record per input',
  'state+events': ' + a changelog record and 2 run events per input',
};

/** Issue 11's targets for this machine (2 cores, everything on it). */
export const RUN_TARGETS = {
  idle: { p50: atMost(15, 'ms'), p99: atMost(50, 'ms') },
  closedLoop: atLeast(1500, '/s'),
  rates: new Map<number, { p50?: Target; p99?: Target }>([
    [200, { p50: atMost(25, 'ms'), p99: atMost(100, 'ms') }],
    [500, { p99: atMost(250, 'ms') }],
  ]),
  projectionLagP99: atMost(1000, 'ms'),
  cpuPerRun: atMost(1.2, 'ms'),
};

/** One mode's runs as the report groups them (each fixed rate a group of its own), with that mode's targets. */
export interface RunGroup {
  readonly key: string;
  readonly title: string;
  readonly runs: RunLoadRun[];
  /** An open loop: its started runs/s is a figure of its own. */
  readonly open: boolean;
  readonly targets: { completed?: Target; p50?: Target; p99?: Target; cpuPerRun?: Target };
}

export function runGroups(m: RunMeasured, settings: RunBenchSettings): RunGroup[] {
  const rates = [...new Set(m.rate.map((r) => r.targetRate))];
  return [
    {
      key: 'idle',
      title: modeLabel({ kind: 'idle', runs: settings.idleRuns }),
      runs: m.idle,
      open: false,
      targets: RUN_TARGETS.idle,
    },
    {
      key: 'max',
      title: modeLabel({ kind: 'max', concurrency: settings.concurrency }),
      runs: m.max,
      open: false,
      targets: { completed: RUN_TARGETS.closedLoop, cpuPerRun: RUN_TARGETS.cpuPerRun },
    },
    ...rates.map((rate) => ({
      key: `rate${rate}`,
      title: modeLabel({ kind: 'rate', rate }),
      runs: m.rate.filter((r) => r.targetRate === rate),
      open: true,
      targets: RUN_TARGETS.rates.get(rate) ?? {},
    })),
  ].filter((g) => g.runs.length);
}

/** CPU ms per completed run of every process on the run's path: the service, Postgres, Kafka and the registry. */
const cpuMsPerRun = (r: RunLoadRun) => ((r.cpu.service + r.cpu.postgres + r.cpu.java) / r.completedPerSecond) * 1000;

const HOP_LABELS: Record<string, string> = { start: 'start→function', function: 'function→function' };

export function runFigures(m: RunMeasured, settings: RunBenchSettings): Figure[] {
  const list: Figure[] = [];
  const add = (figure: Omit<Figure, 'summary'>, values: number[]) => {
    if (values.length) list.push({ ...figure, summary: summarize(values) });
  };
  const target = (t: Target | undefined) => (t ? { target: t } : {});
  for (const { key: prefix, title, runs, open, targets } of runGroups(m, settings)) {
    const pick = (f: (r: RunLoadRun) => number) => runs.map(f);
    if (open) {
      add(
        { key: `${prefix}StartedPerSecond`, label: `${title}: started runs/s`, unit: '/s', decimals: 0 },
        pick((r) => r.startedPerSecond),
      );
    }
    add(
      {
        key: `${prefix}CompletedPerSecond`,
        label: open ? '  completed runs/s' : `${title}: completed runs/s`,
        unit: '/s',
        decimals: 0,
        ...target(targets.completed),
      },
      pick((r) => r.completedPerSecond),
    );
    const ms = (key: string, label: string, values: number[], goal?: Target, decimals = 1) =>
      add({ key: `${prefix}${key}`, label: `  ${label}`, unit: 'ms', decimals, ...target(goal) }, values);
    ms(
      'LatencyP50Ms',
      'run latency p50 (Postgres timestamps)',
      pick((r) => r.latencyP50Ms),
      targets.p50,
    );
    ms(
      'LatencyP99Ms',
      'run latency p99',
      pick((r) => r.latencyP99Ms),
      targets.p99,
    );
    const client = (f: (r: RunLoadRun) => number) => pick(f).filter(Number.isFinite);
    ms(
      'ClientP50Ms',
      'as a client sees it (POST → terminal SSE event) p50',
      client((r) => r.clientLatencyP50Ms),
      targets.p50,
    );
    ms(
      'ClientP99Ms',
      'as a client sees it p99',
      client((r) => r.clientLatencyP99Ms),
      targets.p99,
    );
    ms(
      'AcceptP99Ms',
      'POST /runs 202 latency p99',
      pick((r) => r.acceptP99Ms),
    );
    for (const [type, label] of Object.entries(HOP_LABELS)) {
      const hop = (f: (h: RunLoadRun['hops'][string]) => number) =>
        runs.filter((r) => r.hops[type]).map((r) => f(r.hops[type] as RunLoadRun['hops'][string]));
      const key = `Hop${type[0]?.toUpperCase()}${type.slice(1)}`;
      ms(
        `${key}P50Ms`,
        `hop ${label} p50 (buckets)`,
        hop((h) => h.p50Ms),
      );
      ms(
        `${key}P99Ms`,
        `hop ${label} p99 (buckets)`,
        hop((h) => h.p99Ms),
      );
      ms(
        `${key}MeanMs`,
        `hop ${label} mean (exact)`,
        hop((h) => h.meanMs),
      );
    }
    ms(
      'ProjectionLagP99Ms',
      'projection lag p99 (batches, oldest record)',
      pick((r) => r.diagnostics.projectionLagP99Ms).filter((v) => !Number.isNaN(v)),
      RUN_TARGETS.projectionLagP99,
      0,
    );
    add(
      {
        key: `${prefix}CpuMsPerRun`,
        label: '  CPU per completed run, service + Postgres + Kafka',
        unit: 'ms',
        decimals: 2,
        ...target(targets.cpuPerRun),
      },
      pick(cpuMsPerRun),
    );
  }
  const floorWithTransactions = (r: RoundTripRun) =>
    r.transactionRoundTripP50Ms * CHAIN_TRANSACTIONS + r.roundTripP50Ms * (CHAIN_KAFKA_HOPS - CHAIN_TRANSACTIONS);
  const baseline: [key: string, label: string, unit: string, decimals: number, of: (r: RoundTripRun) => number][] = [
    ['kafkaRoundTripP50Ms', 'kafkajs produce→consume, one at a time: p50', 'ms', 2, (r) => r.roundTripP50Ms],
    ['kafkaRoundTripP99Ms', '  p99', 'ms', 2, (r) => r.roundTripP99Ms],
    ['kafkaProduceP50Ms', '  of which produce (acks=-1) p50', 'ms', 2, (r) => r.produceP50Ms],
    [
      'kafkaChainFloorMs',
      `  × ${CHAIN_KAFKA_HOPS} hops of a 3-node run (Kafka-only floor)`,
      'ms',
      1,
      (r) => r.roundTripP50Ms * CHAIN_KAFKA_HOPS,
    ],
    [
      'kafkaTransactionP50Ms',
      'kafkajs transaction of one message, one at a time: p50',
      'ms',
      2,
      (r) => r.transactionP50Ms,
    ],
    [
      'kafkaTransactionRoundTripP50Ms',
      '  until consumed (read committed) p50',
      'ms',
      2,
      (r) => r.transactionRoundTripP50Ms,
    ],
    ['kafkaTransactionRoundTripP99Ms', '  until consumed p99', 'ms', 2, (r) => r.transactionRoundTripP99Ms],
    ['kafkaRequestsPerTransaction', '  requests per transaction', '', 1, (r) => r.requestsPerTransaction],
    [
      'kafkaChainTransactionalFloorMs',
      `  ${CHAIN_TRANSACTIONS} of them + ${CHAIN_KAFKA_HOPS - CHAIN_TRANSACTIONS} plain hops (the floor with transactions)`,
      'ms',
      1,
      floorWithTransactions,
    ],
    [
      'kafkaPipelinedPerSecond',
      `kafkajs produce→consume, ${settings.rttWindow} in flight`,
      'msgs/s',
      0,
      (r) => r.pipelinedPerSecond,
    ],
    ['kafkaPipelinedP50Ms', '  round trip p50', 'ms', 2, (r) => r.pipelinedP50Ms],
    ['kafkaPipelinedP99Ms', '  round trip p99', 'ms', 2, (r) => r.pipelinedP99Ms],
  ];
  for (const [key, label, unit, decimals, of] of baseline) add({ key, label, unit, decimals }, m.baseline.map(of));
  for (const c of chainCases(settings)) {
    const caseKey = chainCaseKey(c);
    const runs = m.chain.filter((r) => chainCaseKey(r) === caseKey);
    const key = `kafkaChain${caseKey}`;
    const chain: [key: string, label: string, unit: string, decimals: number, of: (r: ChainLoopRun) => number][] = [
      [
        'PerSecond',
        `kafkajs 3-node chains, ${chainLoadLabel(c.load)}, ${c.transactional ? 'in transactions' : 'plain sends'}${CHAIN_LABELS[c.records]}`,
        '/s',
        0,
        (r) => r.completedPerSecond,
      ],
      ['P50Ms', '  chain latency p50', 'ms', 1, (r) => r.latencyP50Ms],
      ['P99Ms', '  chain latency p99', 'ms', 1, (r) => r.latencyP99Ms],
      ['CpuMs', '  CPU per chain, kafkajs + Kafka', 'ms', 2, (r) => r.cpuMsPerChain.node + r.cpuMsPerChain.java],
      ['NodeCpuMs', '    of which kafkajs (this process)', 'ms', 2, (r) => r.cpuMsPerChain.node],
      ['RequestsPerChain', '  requests to the broker per chain', '', 1, (r) => r.requestsPerChain],
    ];
    for (const [suffix, label, unit, decimals, of] of chain) {
      add({ key: `${key}${suffix}`, label, unit, decimals }, runs.map(of));
    }
  }
  return list;
}

/** One mode's diagnostics as medians over its runs. */
export function runDiagnostics(runs: readonly RunLoadRun[]) {
  if (!runs.length) return undefined;
  const median = (values: number[]) => summarize(values).median;
  const first = runs[0] as RunLoadRun;
  const medianOf = <T extends object>(of: (r: RunLoadRun) => T) =>
    Object.fromEntries(
      Object.keys(of(first)).map((key) => [
        key,
        median(runs.map((r) => (of(r) as Record<string, number>)[key] ?? NaN)),
      ]),
    ) as Record<keyof T, number>;
  const labels = new Set(runs.flatMap((r) => Object.keys(r.statements)));
  const statements = [...labels]
    .map((label) => ({
      label,
      perRun: median(runs.map((r) => r.statements[label]?.perRun ?? 0)),
      msPerRun: median(runs.map((r) => r.statements[label]?.msPerRun ?? 0)),
    }))
    .sort((a, b) => b.perRun - a.perRun);
  const perRun = (pick: (c: CpuShare) => number) =>
    median(runs.map((r) => (pick(r.cpu) / r.completedPerSecond) * 1000));
  return {
    cpu: medianOf<CpuShare>((r) => r.cpu),
    /** CPU milliseconds per completed run, by process class. */
    cpuMsPerRun: {
      service: perRun((c) => c.service),
      postgres: perRun((c) => c.postgres),
      java: perRun((c) => c.java),
      driver: perRun((c) => c.loadGenerator),
    },
    cpuPerService: first.cpuPerService.map((_, i) => median(runs.map((r) => r.cpuPerService[i] ?? NaN))),
    service: medianOf<RunDiagnostics>((r) => r.diagnostics),
    statements,
    kafka: {
      recordsPerRun: median(runs.map((r) => r.kafka.recordsPerRun)),
      bytesPerRun: median(runs.map((r) => r.kafka.bytesPerRun)),
      byTopic: [...new Set(runs.flatMap((r) => Object.keys(r.kafka.byTopic)))]
        .map((topic) => ({
          topic,
          records: median(runs.map((r) => r.kafka.byTopic[topic]?.records ?? 0)),
          bytes: median(runs.map((r) => r.kafka.byTopic[topic]?.bytes ?? 0)),
        }))
        .sort((a, b) => b.records - a.records),
    },
    drainMs: median(runs.map((r) => r.drainMs)),
    senderLateMaxMs: median(runs.map((r) => r.senderLateMaxMs)),
    notCompleted: runs.reduce((sum, r) => sum + Object.values(r.notCompleted).reduce((a, n) => a + n, 0), 0),
  };
}

export function runDiagnosticLines(
  title: string,
  d: NonNullable<ReturnType<typeof runDiagnostics>>,
  settings: RunBenchSettings,
): string[] {
  const n = (value: number, decimals = 0) => (Number.isFinite(value) ? value.toFixed(decimals) : 'n/a');
  const { cpu, service: s } = d;
  const layout = settings.services.map((roles, i) => `${roles.join('+')} ${n(d.cpuPerService[i] ?? NaN, 2)}`);
  return [
    `${title} (medians over the runs):`,
    `  cores busy ${n(cpu.busy, 2)} of ${cpu.machineCores}: driver ${n(cpu.loadGenerator, 2)}, service ` +
      `${n(cpu.service, 2)}, postgres ${n(cpu.postgres, 2)}, kafka + registry (java) ${n(cpu.java, 2)}, other ${n(cpu.other, 2)}`,
    `  CPU per completed run: service ${n(d.cpuMsPerRun.service, 1)} ms, postgres ${n(d.cpuMsPerRun.postgres, 1)} ms, ` +
      `java ${n(d.cpuMsPerRun.java, 1)} ms (driver ${n(d.cpuMsPerRun.driver, 1)} ms)`,
    `  service processes: ${layout.join('; ')}; event-loop delay p99 ${n(s.eventLoopLagP99Ms, 1)} ms ` +
      `(max ${n(s.eventLoopLagMaxMs, 1)} ms), GC ${n(s.gcPercent, 1)}% of the window; main threads switched out ` +
      `${n(s.voluntarySwitchesPerSecond)}/s waiting for I/O and ${n(s.involuntarySwitchesPerSecond)}/s preempted`,
    `  coordinator: ${n(s.coordinatorBatchesPerSecond)} batches/s of ${n(s.coordinatorInputsPerBatch, 1)} inputs, ` +
      `${n(s.coordinatorBatchMs, 1)} ms each to apply; ${n(s.transactionsPerSecond)} transactions/s of ` +
      `${n(s.transactionMs, 1)} ms, ${n(s.transactionsPerRun, 2)} per run; run projection lag ${n(s.projectionLagMeanMs, 1)} ms (mean of batches), ` +
      `${n(s.projectionLagP99Ms)} ms p99`,
    `  outbox relay: ${n(s.relayBatchesPerSecond)} batches/s of ${n(s.rowsPerRelayBatch, 1)} rows, ` +
      `${n(s.relayPublishMs, 1)} ms per Kafka acknowledgement; ${n(s.relayRowsPerRun, 1)} rows per run`,
    `  worker: ${n(s.workerTasksPerRun, 2)} tasks per run, ${n(s.workerTaskMs, 2)} ms each`,
    `  Postgres per completed run: ${n(s.statementsPerRun, 1)} statements from the service (${n(s.commitsPerRun, 2)} ` +
      `COMMITs, ${n(s.statementMsPerRun, 1)} ms client-side), ${n(s.pgCommitsPerRun, 2)} commits and ` +
      `${n(s.pgRowsWrittenPerRun, 1)} rows written (pg_stat_database), ${n(s.walBytesPerRun)} WAL bytes; ` +
      `${n(s.walSyncsPerSecond)} WAL flushes/s; the driver's own finish polling ${n(s.driverQueriesPerSecond)} queries/s`,
    `  Kafka per completed run: ${n(d.kafka.recordsPerRun, 1)} records (transaction markers included), ` +
      `${n(d.kafka.bytesPerRun)} log bytes: ` +
      d.kafka.byTopic.map((t) => `${t.topic} ${n(t.records, 1)} / ${n(t.bytes)} B`).join(', '),
    '  statements per run (client-side count and time, by verb and first table):',
    ...d.statements
      .slice(0, 14)
      .map((st) => `    ${n(st.perRun, 2).padStart(6)}  ${n(st.msPerRun, 2).padStart(6)} ms  ${st.label}`),
    `  drain after the load ${n(d.drainMs)} ms` +
      (Number.isFinite(d.senderLateMaxMs) && d.senderLateMaxMs > 0
        ? `; the fixed-rate sender fell ${n(d.senderLateMaxMs, 1)} ms behind its schedule at worst`
        : '') +
      (d.notCompleted ? `; ${d.notCompleted} runs ended other than completed (see the JSON)` : ''),
  ];
}

export function runContext(base: AppConfig, settings: RunBenchSettings, facts: StackFacts, busyBeforeStart: number) {
  return {
    ...context(base, settings, facts, busyBeforeStart),
    services: settings.services.map((roles) => roles.join(',')),
    coordinatorPartitionGroups: settings.coordinatorGroups,
  };
}

export function runHeaderLines(ctx: ReturnType<typeof runContext>, settings: RunBenchSettings): string[] {
  const busy = ctx.busyBeforeStart > 0.2 ? ' (OTHER WORK IS RUNNING: every figure is skewed)' : '';
  return [
    `Run pipeline benchmark (${new Date().toISOString()})`,
    `machine   ${ctx.cores} cores (${ctx.cpuModel}), ${ctx.memoryGiB} GiB, ${ctx.os}, Node ${ctx.node}; ` +
      `${ctx.busyBeforeStart} cores busy before the start${busy}`,
    `stack     Kafka ${ctx.kafkaBrokers} with ${ctx.kafkaPartitions} partitions per topic, PostgreSQL ${ctx.postgres} ` +
      `(synchronous_commit ${ctx.synchronousCommit})`,
    `workload  3-node function chain (a: input.x, b: nodes.a + 1, c: nodes.b * 2) over ${settings.workflows} workflows; ` +
      `${settings.durationMs / 1000} s measured after ${settings.warmupMs / 1000} s warm-up; ${settings.runs} runs per mode`,
    `service   ${ctx.services.map((s) => `[${s}]`).join(' ')} (one child process per bracket); ` +
      `COORDINATOR_PARTITION_GROUPS ${ctx.coordinatorPartitionGroups || 'one per partition'}`,
    `modes     idle: one run at a time, ${settings.idleRuns} runs measured; closed loop: ${settings.concurrency} ` +
      `starters, each starting its next run when its last one finished; fixed rates (open loop): ` +
      `${settings.rates.join(', ')} runs/s; a run's end is ` +
      (settings.watch === 'sse' ? 'its terminal event on its SSE stream' : 'its finished_at in Postgres (polled)'),
    `baseline  ${settings.rttMessages} messages one at a time, ${settings.rttPipelinedMessages} with ` +
      `${settings.rttWindow} in flight (hop quantiles are interpolated within hop_latency_ms buckets 1,2,3,5,7.5,10,15,20,30,50,100,250,500,1000,2500,5000)`,
  ];
}
