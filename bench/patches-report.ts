import { cpus, platform, release, totalmem } from 'node:os';
import type { AppConfig } from '#libs/config';
import type { BaselineRun } from './scenarios/kafka-baseline.js';
import type { PatchLoadRun } from './scenarios/patch-load.js';
import type { RelayRun } from './scenarios/relay-throughput.js';
import { atLeast, below, type Figure } from './support/report.js';
import type { BenchSettings } from './support/settings.js';
import type { StackFacts } from './support/stack-check.js';
import { summarize } from './support/stats.js';

/** What the patch benchmark measured: every run of every scenario. */
export interface Measured {
  readonly load: PatchLoadRun[];
  readonly queuedMs: number[];
  readonly relay: RelayRun[];
  readonly baseline: BaselineRun[];
}

export function figures(m: Measured, settings: BenchSettings): Figure[] {
  const list: Figure[] = [];
  const add = (figure: Omit<Figure, 'summary'>, values: number[]) => {
    if (values.length) list.push({ ...figure, summary: summarize(values) });
  };
  const load = (pick: (run: PatchLoadRun) => number) => m.load.map(pick);
  add(
    {
      key: 'acceptedPerSecond',
      label: 'accepted patches/s (202)',
      unit: '/s',
      decimals: 0,
      target: atLeast(5000, '/s'),
    },
    load((r) => r.acceptedPerSecond),
  );
  add(
    { key: 'latencyP50Ms', label: '202 latency p50', unit: 'ms', decimals: 1 },
    load((r) => r.latencyP50Ms),
  );
  add(
    { key: 'latencyP99Ms', label: '202 latency p99', unit: 'ms', decimals: 1, target: below(100, 'ms') },
    load((r) => r.latencyP99Ms),
  );
  add(
    { key: 'lagP50Ms', label: 'materialization lag p50', unit: 'ms', decimals: 0 },
    load((r) => r.lagP50Ms),
  );
  add(
    { key: 'lagP99Ms', label: 'materialization lag p99', unit: 'ms', decimals: 0, target: below(1000, 'ms') },
    load((r) => r.lagP99Ms),
  );
  add(
    { key: 'drainMs', label: 'backlog drained after load', unit: 'ms', decimals: 0 },
    load((r) => r.drainMs),
  );
  add(
    {
      key: 'materializeQueuedMs',
      label: `materialize ${settings.queuedPatches} queued patches`,
      unit: 'ms',
      decimals: 1,
      target: below(100, 'ms'),
    },
    m.queuedMs,
  );
  add(
    { key: 'relayRowsPerSecond', label: 'outbox relay', unit: 'rows/s', decimals: 0 },
    m.relay.map((r) => r.rowsPerSecond),
  );
  add(
    { key: 'relayBatchMs', label: '  time per relay batch', unit: 'ms', decimals: 1 },
    m.relay.map((r) => r.batchMs),
  );
  add(
    { key: 'relayKafkaMsPerBatch', label: '  of which Kafka ack', unit: 'ms', decimals: 1 },
    m.relay.map((r) => r.kafkaMsPerBatch),
  );
  add(
    { key: 'baselineMsgsPerSecond', label: 'kafkajs produce+consume', unit: 'msgs/s', decimals: 0 },
    m.baseline.map((b) => b.produceConsumePerSecond),
  );
  add(
    { key: 'baselineProduceMsgsPerSecond', label: 'kafkajs produce only', unit: 'msgs/s', decimals: 0 },
    m.baseline.map((b) => b.producePerSecond),
  );
  // Per run, relay and baseline shared one sandbox and ran back to back, so their ratio is taken run by run.
  const pairs = Math.min(m.relay.length, m.baseline.length);
  add(
    { key: 'relayToBaselineRatio', label: 'relay ÷ produce+consume baseline', unit: 'ratio', decimals: 2 },
    Array.from(
      { length: pairs },
      (_, i) => (m.relay[i] as RelayRun).rowsPerSecond / (m.baseline[i] as BaselineRun).produceConsumePerSecond,
    ),
  );
  return list;
}

/** The load runs' diagnostics (CPU shares, the service's own metrics, batching), each as the median over the runs. */
export function loadDiagnostics(runs: readonly PatchLoadRun[]) {
  if (!runs.length) return undefined;
  const median = (pick: (run: PatchLoadRun) => number) => summarize(runs.map(pick)).median;
  const first = runs[0] as PatchLoadRun;
  const medians = <T extends object>(of: (run: PatchLoadRun) => T) =>
    Object.fromEntries(
      Object.keys(of(first)).map((key) => [key, median((run) => (of(run) as Record<string, number>)[key] as number)]),
    ) as Record<keyof T, number>;
  return {
    cpu: medians((run) => run.cpu),
    service: medians((run) => run.service),
    patchesPerAcceptTransaction: median((run) => run.patchesPerAcceptTransaction),
    patchesPerVersion: median((run) => run.patchesPerVersion),
  };
}

export function diagnosticLines(d: NonNullable<ReturnType<typeof loadDiagnostics>>): string[] {
  const n = (value: number, decimals = 0) => (Number.isFinite(value) ? value.toFixed(decimals) : 'n/a');
  const { cpu, service } = d;
  return [
    'during the load (medians over the runs):',
    `  cores busy ${n(cpu.busy, 2)} of ${cpu.machineCores}: load generator ${n(cpu.loadGenerator, 2)}, ` +
      `service ${n(cpu.service, 2)}, postgres ${n(cpu.postgres, 2)}, kafka + registry (java) ${n(cpu.java, 2)}, ` +
      `other ${n(cpu.other, 2)}`,
    `  service: event-loop delay p99 ${n(service.eventLoopLagP99Ms, 1)} ms (max ${n(service.eventLoopLagMaxMs, 1)} ms), ` +
      `GC ${n(service.gcPercent, 1)}% of the time`,
    `  api: ${n(d.patchesPerAcceptTransaction, 1)} patches per accepting transaction (group commit)`,
    `  materializer: ${n(service.materializeBatches)} batches of ${n(service.patchesPerMaterializeBatch, 1)} ` +
      `patches, ${n(service.materializeBatchMs, 1)} ms each; ${n(d.patchesPerVersion, 2)} patches per new version`,
    `  outbox relay: ${n(service.relayBatches)} batches of ${n(service.rowsPerRelayBatch, 1)} rows, ` +
      `${n(service.relayPublishMs, 1)} ms per Kafka acknowledgement`,
  ];
}

/** The machine and stack a benchmark ran on, for its header and JSON line. */
export function context(
  base: AppConfig,
  settings: Pick<BenchSettings, 'partitions'>,
  facts: StackFacts,
  busyBeforeStart: number,
) {
  const cores = cpus();
  return {
    busyBeforeStart: Math.round(busyBeforeStart * 100) / 100,
    cores: cores.length,
    cpuModel: cores[0]?.model.trim() ?? '?',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    kafkaBrokers: base.KAFKA_BROKERS.join(','),
    kafkaPartitions: settings.partitions,
    postgres: facts.postgresVersion,
    synchronousCommit: facts.synchronousCommit,
  };
}

export function headerLines(ctx: ReturnType<typeof context>, settings: BenchSettings): string[] {
  const busy = ctx.busyBeforeStart > 0.2 ? ' (OTHER WORK IS RUNNING: every figure is skewed)' : '';
  return [
    `Patch pipeline benchmark (${new Date().toISOString()})`,
    `machine   ${ctx.cores} cores (${ctx.cpuModel}), ${ctx.memoryGiB} GiB, ${ctx.os}, Node ${ctx.node}; ` +
      `${ctx.busyBeforeStart} cores busy before the start${busy}`,
    `stack     Kafka ${ctx.kafkaBrokers} with ${ctx.kafkaPartitions} partitions per topic, PostgreSQL ${ctx.postgres} ` +
      `(synchronous_commit ${ctx.synchronousCommit})`,
    `load      ${settings.concurrency} requests in flight for ${settings.durationMs / 1000} s per run ` +
      `(after ${settings.warmupMs / 1000} s warm-up), ${settings.workflows} workflows, one-op patches; ` +
      'service = api + outbox-relay + materializer in one child process',
    `other     ${settings.queuedPatches} queued add-node patches x ${settings.materializeReps} reps; relay ` +
      `${settings.relayRows} rows, baseline ${settings.baselineMessages} msgs (sendBatch of ${settings.baselineBatch}), ` +
      `${settings.keys} keys, ${settings.payloadBytes}-byte payloads; ${settings.runs} runs`,
  ];
}
