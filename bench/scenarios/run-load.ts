import { LOCAL_BOOTSTRAP_ADMIN_KEY, type AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { ApiClient } from '../support/api-client.js';
import { measureCpuSplit, type CpuShare } from '../support/cpu.js';
import { bucketQuantile, histogramMean, histogramWindows, type HistogramWindow } from '../support/histogram.js';
import { AnswerLog, postLogged, startOpenLoop } from '../support/http-load.js';
import { measurePg, type PgWindow } from '../support/pg-stats.js';
import { progress } from '../support/progress.js';
import { Resources } from '../support/resources.js';
import { createSandbox } from '../support/sandbox.js';
import { scrapeAll, seriesDelta, type Snapshot } from '../support/service-metrics.js';
import { measureKafkaVolume, type KafkaVolume } from '../support/kafka-volume.js';
import { RunStreams } from '../support/run-streams.js';
import { startServices, type Service } from '../support/service.js';
import type { RunBenchSettings } from '../support/settings.js';
import { percentile } from '../support/stats.js';
import { CHAIN_DEFINITION, createWorkflows } from '../support/workflows.js';

/** idle: one run at a time until `runs` were started in the window; max: the closed loop; rate: the open loop. */
export type RunLoadMode =
  { kind: 'idle'; runs: number } | { kind: 'max'; concurrency: number } | { kind: 'rate'; rate: number };

/** How the progress lines and tables name a mode. */
export function modeLabel(mode: RunLoadMode): string {
  if (mode.kind === 'idle') return `idle (one run at a time, ${mode.runs} runs)`;
  if (mode.kind === 'max') return `closed loop (${mode.concurrency} in flight)`;
  return `fixed rate ${mode.rate.toFixed(0)}/s`;
}

/** Quantiles of one hop kind from the workers' hop_latency_ms histogram over the window. */
export interface HopFigures {
  readonly count: number;
  /** Bucket-interpolated (the buckets of hop_latency_ms, up to 5000 ms); Infinity above the last bucket. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Exact, from the histogram's sum and count. */
  readonly meanMs: number;
}

/** What the service's own metrics and the database say about the window, per completed run where it says so. */
export interface RunDiagnostics {
  readonly eventLoopLagP99Ms: number;
  readonly eventLoopLagMaxMs: number;
  /** GC time as a share of the window, summed over the service processes. */
  readonly gcPercent: number;
  readonly coordinatorBatchesPerSecond: number;
  /** Run inputs (starts and node completions) applied per coordinator batch. */
  readonly coordinatorInputsPerBatch: number;
  /** Applying a write to the runs in memory (its transaction commits later). */
  readonly coordinatorBatchMs: number;
  /** Kafka transactions the coordinator committed per completed run. */
  readonly transactionsPerRun: number;
  readonly transactionsPerSecond: number;
  /** From beginning a transaction to its commit. */
  readonly transactionMs: number;
  /** Mean changelog-to-Postgres lag of the run projector's batches (run_projection_lag_seconds). */
  readonly projectionLagMeanMs: number;
  /**
   * Its p99 over the batches, interpolated within the histogram's buckets (…, 500 ms, 1 s, 2.5 s, …): a batch's lag is
   * that of its oldest record, so this bounds every run's from above; against the 1 s target it is exact, 1 s being a
   * bucket bound.
   */
  readonly projectionLagP99Ms: number;
  readonly relayBatchesPerSecond: number;
  readonly rowsPerRelayBatch: number;
  readonly relayPublishMs: number;
  readonly relayRowsPerRun: number;
  readonly workerTasksPerRun: number;
  readonly workerTaskMs: number;
  /** SQL statements the service sent (client-side count), and how many of them were COMMITs. */
  readonly statementsPerRun: number;
  readonly commitsPerRun: number;
  /** Client-side time of all statements per completed run (connections work in parallel, so not wall time). */
  readonly statementMsPerRun: number;
  readonly pgCommitsPerRun: number;
  readonly pgRowsWrittenPerRun: number;
  readonly walBytesPerRun: number;
  readonly walSyncsPerSecond: number;
  /** The benchmark's own Postgres queries per second (the closed loop's finish polling). */
  readonly driverQueriesPerSecond: number;
  /** Context switches per second of the service processes' main threads: waits for I/O, and preemptions. */
  readonly voluntarySwitchesPerSecond: number;
  readonly involuntarySwitchesPerSecond: number;
}

export interface RunLoadRun {
  readonly mode: RunLoadMode['kind'];
  /** The fixed rate asked for (rate mode). */
  readonly targetRate: number;
  readonly startedPerSecond: number;
  /** Runs whose finished_at falls in the window, per second of it. */
  readonly finishedPerSecond: number;
  /** Of those, the ones that completed (the figure reported as completed runs/s). */
  readonly completedPerSecond: number;
  readonly completed: number;
  /** Runs that ended otherwise (by status): there should be none. */
  readonly notCompleted: Record<string, number>;
  /** finished_at - created_at of the runs created in the window. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly latencyMaxMs: number;
  /**
   * As a client sees a run (BENCH_RUN_WATCH=sse): from sending its POST to its terminal event on its SSE stream, for
   * the completed runs whose POST was sent in the window. NaN when watching Postgres.
   */
  readonly clientLatencyP50Ms: number;
  readonly clientLatencyP99Ms: number;
  readonly clientWatched: number;
  /** What the window added to the sandbox's topics, per completed run (records include transaction markers). */
  readonly kafka: {
    readonly recordsPerRun: number;
    readonly bytesPerRun: number;
    readonly byTopic: Record<string, { records: number; bytes: number }>;
  };
  /** The POST's own latency (202). */
  readonly acceptP50Ms: number;
  readonly acceptP99Ms: number;
  readonly hops: Record<string, HopFigures>;
  readonly drainMs: number;
  /** Rate mode: the sender's worst lag behind its schedule. */
  readonly senderLateMaxMs: number;
  readonly failures: Record<string, number>;
  readonly cpu: CpuShare;
  /** Cores busy per service process, in the order of BENCH_SERVICES. */
  readonly cpuPerService: number[];
  readonly diagnostics: RunDiagnostics;
  /** Statements per completed run by label, and their client-side ms per run. */
  readonly statements: Record<string, { perRun: number; msPerRun: number }>;
  /** For the CPU profiles: the service pids and the window on the monotonic clock (µs), which V8's profiles use. */
  readonly profileWindow: { readonly pids: number[]; readonly fromUs: number; readonly toUs: number };
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Which of the runs being waited for have finished, asked of Postgres every `pollMs` in one query (the primary key of
 * at most the runs in flight), so the closed loop learns of a run's end without reading its events.
 */
export class FinishWatcher {
  private readonly waiting = new Map<string, (status: string) => void>();
  private stopped = false;
  private readonly loop: Promise<void>;
  queries = 0;

  constructor(
    private readonly pool: Pool,
    private readonly pollMs: number,
  ) {
    this.loop = this.poll();
  }

  finished(runId: string): Promise<string> {
    return new Promise((resolve) => this.waiting.set(runId, resolve));
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      if (this.waiting.size) {
        this.queries++;
        const { rows } = await this.pool.query<{ id: string; status: string }>(
          'SELECT id, status FROM runs WHERE id = ANY($1::uuid[]) AND finished_at IS NOT NULL',
          [[...this.waiting.keys()]],
        );
        for (const { id, status } of rows) {
          this.waiting.get(id)?.(status);
          this.waiting.delete(id);
        }
      }
      await sleep(this.pollMs);
    }
  }

  /** Stops waiting: every run still waited for counts as 'abandoned' (the drain that follows waits for them). */
  abandonAll(): void {
    for (const resolve of this.waiting.values()) resolve('abandoned');
    this.waiting.clear();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abandonAll();
    await this.loop;
  }
}

export interface Load {
  readonly log: AnswerLog;
  readonly senderLateMaxMs: () => number;
  stop(): Promise<void>;
}

/** N starters, each starting its next run once its last one finished: at most N runs in flight, never a backlog. */
export function startClosedLoop(
  client: ApiClient,
  finished: RunEnd,
  concurrency: number,
  next: () => { path: string; body: string },
): Load {
  const log = new AnswerLog();
  let stopped = false;
  const starter = async () => {
    while (!stopped && !client.closed) {
      const { path, body } = next();
      const sentAt = performance.now();
      const text = await postLogged(client, log, path, body);
      if (text === undefined) await sleep(10);
      else await finished.of((JSON.parse(text) as { runId: string }).runId, sentAt);
    }
  };
  const starters = Promise.all(Array.from({ length: concurrency }, starter));
  return {
    log,
    senderLateMaxMs: () => 0,
    stop: async () => {
      stopped = true;
      finished.abandonAll();
      await starters;
    },
  };
}

/** How the driver waits for a run's end: its SSE stream, or the projection in Postgres (BENCH_RUN_WATCH). */
export interface RunEnd {
  of(runId: string, sentAt: number): Promise<string>;
  /** Stops waiting for the runs in flight (Postgres polling only; a stream ends with its run). */
  abandonAll(): void;
  /** Resolves once every watch begun has ended. */
  settled(): Promise<void>;
}

function runEnd(
  watch: 'sse' | 'postgres',
  watcher: FinishWatcher,
  streams: RunStreams,
  drainTimeoutMs: number,
): RunEnd {
  if (watch === 'postgres') {
    return { of: (runId) => watcher.finished(runId), abandonAll: () => watcher.abandonAll(), settled: async () => {} };
  }
  const open = new Set<Promise<string>>();
  return {
    of: (runId, sentAt) => {
      const watching = streams.watch(runId, sentAt, drainTimeoutMs);
      open.add(watching);
      void watching.finally(() => open.delete(watching));
      return watching;
    },
    abandonAll: () => undefined,
    settled: async () => {
      await Promise.all(open);
    },
  };
}

/**
 * One measurement of the run pipeline: a sandbox, the service processes of BENCH_SERVICES, BENCH_RUN_WORKFLOWS
 * 3-node chains; one run to make sure every consumer group is up; the load for the warm-up, then for the measured
 * window (scrapes, CPU and Postgres counters at both ends); then the load stops, the runs in flight finish, and the
 * database says how many runs finished in the window and how long the ones started in it took.
 */
export async function measureRunLoad(
  base: AppConfig,
  settings: RunBenchSettings,
  mode: RunLoadMode,
  run: number,
): Promise<RunLoadRun> {
  const resources = new Resources();
  try {
    const sandbox = await createSandbox(base, `${mode.kind}${run}`, settings.partitions, resources);
    const services = await startServices(sandbox, settings.services, settings, resources, {
      COORDINATOR_PARTITION_GROUPS: String(settings.coordinatorGroups),
    });
    const api = services.find((s) => s.roles.includes('api')) as Service;
    const connections = mode.kind === 'max' ? mode.concurrency : mode.kind === 'idle' ? 1 : 256;
    const client = new ApiClient(api.origin, connections, LOCAL_BOOTSTRAP_ADMIN_KEY);
    resources.defer('http client', () => client.close());
    const metricsClients = services.map((s) =>
      s === api ? client : new ApiClient(s.origin, 1, LOCAL_BOOTSTRAP_ADMIN_KEY),
    );
    for (const c of metricsClients) if (c !== client) resources.defer('metrics client', () => c.close());
    const pool = createPool(sandbox.databaseUrl, { name: 'bench-runs', max: 4 });
    resources.defer('pool', () => pool.end());
    const watcher = new FinishWatcher(pool, settings.pollMs);
    resources.defer('finish watcher', () => watcher.stop());
    const streams = new RunStreams(api.origin, LOCAL_BOOTSTRAP_ADMIN_KEY, connections);
    resources.defer('run streams', () => streams.close());
    const finished = runEnd(settings.watch, watcher, streams, settings.drainTimeoutMs);

    const workflows = await createWorkflows(client, settings.workflows, 'chain', CHAIN_DEFINITION);
    let sent = 0;
    const next = () => {
      const n = sent++;
      return { path: `/v1/workflows/${workflows[n % workflows.length]}/runs`, body: `{"input":{"x":${n}}}` };
    };
    await firstRun(client, watcher, next);

    const load =
      mode.kind !== 'rate'
        ? startClosedLoop(client, finished, mode.kind === 'max' ? mode.concurrency : 1, next)
        : (() => {
            const open = startOpenLoop(client, mode.rate, next, (text, sentAt) => {
              if (settings.watch === 'sse') void finished.of((JSON.parse(text) as { runId: string }).runId, sentAt);
            });
            return { log: open.log, senderLateMaxMs: () => open.maxLateMs, stop: () => open.stop() };
          })();
    let result: RunLoadRun;
    try {
      await sleep(settings.warmupMs);
      const before = await scrapeAll(metricsClients);
      const pg = await measurePg(pool);
      const queriesBefore = watcher.queries;
      const cpu = measureCpuSplit(
        services.map((s) => s.pid),
        sandbox.id,
      );
      const kafkaVolume = await measureKafkaVolume(sandbox.kafka, sandbox.topics);
      const fromUs = monotonicUs();
      const from = performance.now();
      const windowStart = await dbClock(pool);
      if (mode.kind === 'idle') await untilAnswered(load.log, from, mode.runs, IDLE_WINDOW_CAP_MS);
      else await sleep(settings.durationMs);
      const windowEnd = await dbClock(pool);
      const to = performance.now();
      const toUs = monotonicUs();
      const cpuWindow = cpu();
      const pgWindow = await pg();
      const volume = await kafkaVolume();
      const after = await scrapeAll(metricsClients);
      const driverQueries = watcher.queries - queriesBefore;
      const senderLateMaxMs = load.senderLateMaxMs();
      await load.stop();
      const drainStarted = performance.now();
      await untilAllFinished(pool, settings.drainTimeoutMs);
      await finished.settled();
      const drainMs = performance.now() - drainStarted;

      const windowS = (to - from) / 1000;
      const stored = await storedFigures(pool, windowStart, windowEnd);
      const answers = load.log.window(from, to);
      const hopWindows = histogramWindows(before, after, 'hop_latency_ms', 'from_type');
      result = {
        mode: mode.kind,
        targetRate: mode.kind === 'rate' ? mode.rate : Number.NaN,
        startedPerSecond: stored.created / windowS,
        finishedPerSecond: stored.finished / windowS,
        completedPerSecond: stored.completed / windowS,
        completed: stored.completed,
        notCompleted: stored.otherStatuses,
        latencyP50Ms: stored.p50Ms,
        latencyP99Ms: stored.p99Ms,
        latencyMaxMs: stored.maxMs,
        ...clientFigures(streams.completedIn(from, to)),
        kafka: perRun(volume, stored.completed),
        acceptP50Ms: percentile(answers.latenciesMs, 0.5),
        acceptP99Ms: percentile(answers.latenciesMs, 0.99),
        hops: Object.fromEntries([...hopWindows].map(([fromType, window]) => [fromType, hopFigures(window)])),
        drainMs,
        senderLateMaxMs,
        failures: Object.fromEntries(answers.failures),
        cpu: cpuWindow.share,
        cpuPerService: cpuWindow.perService,
        diagnostics: {
          ...diagnose(before, after, windowS, stored.completed, pgWindow, driverQueries),
          voluntarySwitchesPerSecond: cpuWindow.switchesPerSecond.voluntary,
          involuntarySwitchesPerSecond: cpuWindow.switchesPerSecond.involuntary,
        },
        statements: statementsPerRun(before, after, stored.completed),
        profileWindow: { pids: services.map((s) => s.pid), fromUs, toUs },
      };
    } finally {
      await load.stop();
    }
    const hop = (type: string) => result.hops[type];
    progress(
      `${modeLabel(mode)} ` +
        `run ${run}: started ${result.startedPerSecond.toFixed(0)}/s, completed ${result.completedPerSecond.toFixed(0)}/s, ` +
        `run latency p50 ${result.latencyP50Ms.toFixed(1)} ms p99 ${result.latencyP99Ms.toFixed(1)} ms, hop p50/p99 ` +
        `start ${hop('start')?.p50Ms.toFixed(1)}/${hop('start')?.p99Ms.toFixed(1)} ms, function ` +
        `${hop('function')?.p50Ms.toFixed(1)}/${hop('function')?.p99Ms.toFixed(1)} ms; service ` +
        `${result.cpu.service.toFixed(2)} cores, postgres ${result.cpu.postgres.toFixed(2)}, java ${result.cpu.java.toFixed(2)}, ` +
        `driver ${result.cpu.loadGenerator.toFixed(2)}` +
        (Object.keys(result.notCompleted).length ? `; NOT COMPLETED ${JSON.stringify(result.notCompleted)}` : '') +
        (Object.keys(result.failures).length ? `; failures ${JSON.stringify(result.failures)}` : ''),
    );
    return result;
  } finally {
    await resources.release();
  }
}

/** Idle mode stops counting here even when its runs are not all started: a run that takes this long is not idle. */
const IDLE_WINDOW_CAP_MS = 120_000;

/** Waits until `runs` POSTs sent since `from` were answered (202 or not), or `capMs` passed. */
async function untilAnswered(log: AnswerLog, from: number, runs: number, capMs: number): Promise<void> {
  while (performance.now() - from < capMs) {
    const answered = log.window(from, performance.now());
    if (answered.accepted + [...answered.failures.values()].reduce((a, b) => a + b, 0) >= runs) return;
    await sleep(20);
  }
}

function clientFigures(latenciesMs: number[]) {
  return {
    clientLatencyP50Ms: percentile(latenciesMs, 0.5),
    clientLatencyP99Ms: percentile(latenciesMs, 0.99),
    clientWatched: latenciesMs.length,
  };
}

function perRun(volume: KafkaVolume, completed: number): RunLoadRun['kafka'] {
  const per = (n: number) => (completed ? n / completed : Number.NaN);
  return {
    recordsPerRun: per(volume.records),
    bytesPerRun: per(volume.bytes),
    byTopic: Object.fromEntries(
      Object.entries(volume.byTopic).map(([topic, v]) => [topic, { records: per(v.records), bytes: per(v.bytes) }]),
    ),
  };
}

/** Starts one run and waits for its end: every consumer group has joined and the path works before anything counts. */
export async function firstRun(
  client: ApiClient,
  watcher: FinishWatcher,
  next: () => { path: string; body: string },
): Promise<void> {
  const { path, body } = next();
  const reply = await client.post(path, body);
  if (reply.status !== 202) throw new Error(`POST ${path}: HTTP ${reply.status}: ${reply.text.slice(0, 500)}`);
  const { runId } = JSON.parse(reply.text) as { runId: string };
  const status = await Promise.race([watcher.finished(runId), sleep(60_000).then(() => 'not finished after 60 s')]);
  if (status !== 'completed') throw new Error(`the first run ${runId} ended ${status}`);
}

/** Postgres' clock (the one created_at and finished_at come from), to the microsecond, as text. */
export async function dbClock(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ now: string }>('SELECT clock_timestamp()::text AS now');
  return (rows[0] as { now: string }).now;
}

export async function untilAllFinished(pool: Pool, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs WHERE finished_at IS NULL');
    const unfinished = rows[0]?.n ?? 0;
    if (!unfinished) return;
    if (performance.now() > deadline) throw new Error(`${unfinished} runs still unfinished after ${timeoutMs} ms`);
    await sleep(20);
  }
}

export interface StoredFigures {
  readonly created: number;
  readonly finished: number;
  readonly completed: number;
  readonly otherStatuses: Record<string, number>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Runs finished in [from, to) by status, runs created in it, and the latency of the created ones (all ended now). */
export async function storedFigures(pool: Pool, from: string, to: string): Promise<StoredFigures> {
  const { rows } = await pool.query<{
    created: number;
    p50: number | null;
    p99: number | null;
    max: number | null;
  }>(
    `SELECT count(*)::int AS created,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
            max(ms) AS max
       FROM (SELECT extract(epoch FROM finished_at - created_at)::float8 * 1000 AS ms
               FROM runs WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz) w`,
    [from, to],
  );
  const { rows: ended } = await pool.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM runs
      WHERE finished_at >= $1::timestamptz AND finished_at < $2::timestamptz GROUP BY status`,
    [from, to],
  );
  const row = rows[0];
  if (!row) throw new Error('no run figures');
  const byStatus = Object.fromEntries(ended.map((r) => [r.status, r.n]));
  const { completed = 0, ...otherStatuses } = byStatus;
  return {
    created: row.created,
    finished: ended.reduce((sum, r) => sum + r.n, 0),
    completed,
    otherStatuses,
    p50Ms: row.p50 ?? Number.NaN,
    p99Ms: row.p99 ?? Number.NaN,
    maxMs: row.max ?? Number.NaN,
  };
}

function hopFigures(window: HistogramWindow): HopFigures {
  return {
    count: window.count,
    p50Ms: bucketQuantile(window, 0.5),
    p99Ms: bucketQuantile(window, 0.99),
    meanMs: histogramMean(window),
  };
}

function diagnose(
  before: Snapshot,
  after: Snapshot,
  windowS: number,
  completed: number,
  pg: PgWindow,
  driverQueries: number,
): Omit<RunDiagnostics, 'voluntarySwitchesPerSecond' | 'involuntarySwitchesPerSecond'> {
  const delta = (name: string) => (after.totals.get(name) ?? 0) - (before.totals.get(name) ?? 0);
  const ratio = (a: number, b: number) => (b ? a / b : Number.NaN);
  const worst = (name: string) =>
    Math.max(...after.series.filter((s) => s.name === name).map((s) => s.value)) * 1000 || Number.NaN;
  const statements = seriesDelta(before, after, 'bench_pg_statements', 'statement');
  const statementSeconds = seriesDelta(before, after, 'bench_pg_statement_seconds', undefined).get('') ?? 0;
  const sumOf = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);
  const coordinatorBatches = delta('coordinator_batch_duration_seconds_count');
  return {
    eventLoopLagP99Ms: worst('nodejs_eventloop_lag_p99_seconds'),
    eventLoopLagMaxMs: worst('nodejs_eventloop_lag_max_seconds'),
    gcPercent: (delta('nodejs_gc_duration_seconds_sum') / windowS) * 100,
    coordinatorBatchesPerSecond: coordinatorBatches / windowS,
    coordinatorInputsPerBatch: ratio(
      delta('workflows_started_total') + delta('node_executions_total'),
      coordinatorBatches,
    ),
    coordinatorBatchMs: ratio(delta('coordinator_batch_duration_seconds_sum') * 1000, coordinatorBatches),
    transactionsPerRun: ratio(delta('coordinator_transactions_total'), completed),
    transactionsPerSecond: delta('coordinator_transaction_duration_seconds_count') / windowS,
    transactionMs: ratio(
      delta('coordinator_transaction_duration_seconds_sum') * 1000,
      delta('coordinator_transaction_duration_seconds_count'),
    ),
    projectionLagMeanMs: ratio(
      delta('run_projection_lag_seconds_sum') * 1000,
      delta('run_projection_lag_seconds_count'),
    ),
    projectionLagP99Ms: projectionLagP99(before, after),
    relayBatchesPerSecond: delta('outbox_publish_batch_size_count') / windowS,
    rowsPerRelayBatch: ratio(delta('outbox_publish_batch_size_sum'), delta('outbox_publish_batch_size_count')),
    relayPublishMs: ratio(
      delta('outbox_publish_duration_seconds_sum') * 1000,
      delta('outbox_publish_duration_seconds_count'),
    ),
    relayRowsPerRun: ratio(delta('outbox_published_total'), completed),
    workerTasksPerRun: ratio(delta('node_task_duration_seconds_count'), completed),
    workerTaskMs: ratio(delta('node_task_duration_seconds_sum') * 1000, delta('node_task_duration_seconds_count')),
    statementsPerRun: ratio(sumOf(statements), completed),
    commitsPerRun: ratio(statements.get('COMMIT') ?? 0, completed),
    statementMsPerRun: ratio(statementSeconds * 1000, completed),
    pgCommitsPerRun: ratio(pg.commits, completed),
    pgRowsWrittenPerRun: ratio(pg.inserted + pg.updated + pg.deleted, completed),
    walBytesPerRun: ratio(pg.walBytes, completed),
    walSyncsPerSecond: pg.walSyncs / windowS,
    driverQueriesPerSecond: driverQueries / windowS,
  };
}

function projectionLagP99(before: Snapshot, after: Snapshot): number {
  const window = histogramWindows(before, after, 'run_projection_lag_seconds').get('');
  return window ? bucketQuantile(window, 0.99) * 1000 : Number.NaN;
}

function statementsPerRun(
  before: Snapshot,
  after: Snapshot,
  completed: number,
): Record<string, { perRun: number; msPerRun: number }> {
  const counts = seriesDelta(before, after, 'bench_pg_statements', 'statement');
  const seconds = seriesDelta(before, after, 'bench_pg_statement_seconds', 'statement');
  return Object.fromEntries(
    [...counts]
      .filter(([, n]) => n > 0)
      .map(([label, n]) => [
        label,
        { perRun: completed ? n / completed : Number.NaN, msPerRun: ((seconds.get(label) ?? 0) * 1000) / completed },
      ]),
  );
}
