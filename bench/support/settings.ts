import { z } from 'zod';
import { configSchema } from '#libs/config';
import { SERVICE_ROLES, type ServiceRole } from './service.js';

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const seconds = (fallback: number) => z.coerce.number().nonnegative().default(fallback);
/** A comma-separated list (`a,b`), at least one item, each trimmed and checked by `item`. */
const commaList = <T extends z.ZodType<unknown, string>>(fallback: string, item: T) =>
  z
    .string()
    .default(fallback)
    .transform((value) => value.split(',').map((s) => s.trim()))
    .pipe(z.array(item).min(1));

export const SCENARIOS = ['load', 'queued', 'relay', 'baseline'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Every knob of the benchmark, from `BENCH_*` variables; the defaults keep one invocation under five minutes. */
const settingsSchema = z.object({
  BENCH_RUNS: count(3),
  /** Which scenarios to run (comma-separated); all by default. */
  BENCH_ONLY: commaList(SCENARIOS.join(','), z.enum(SCENARIOS)),
  /** Kafka partitions of every topic the benchmark creates; the platform's KAFKA_PARTITIONS when unset. */
  BENCH_PARTITIONS: z.coerce.number().int().positive().max(1024).optional(),
  BENCH_CONCURRENCY: count(64),
  BENCH_DURATION_S: seconds(10),
  BENCH_WARMUP_S: seconds(2),
  BENCH_WORKFLOWS: count(200),
  BENCH_DRAIN_TIMEOUT_S: seconds(120),
  BENCH_QUEUED_PATCHES: count(100),
  BENCH_MATERIALIZE_REPS: count(7),
  BENCH_RELAY_ROWS: count(20_000),
  BENCH_KEYS: count(400),
  BENCH_PAYLOAD_BYTES: count(200),
  BENCH_BASELINE_MESSAGES: count(50_000),
  BENCH_BASELINE_BATCH: count(500),
  BENCH_SERVICE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('warn'),
  /** When set, the service processes run with --cpu-prof and write their profiles here. */
  BENCH_CPU_PROF_DIR: z.string().min(1).optional(),
});

export interface BenchSettings {
  readonly runs: number;
  readonly scenarios: ReadonlySet<Scenario>;
  readonly partitions: number;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly workflows: number;
  readonly drainTimeoutMs: number;
  readonly queuedPatches: number;
  readonly materializeReps: number;
  readonly relayRows: number;
  readonly keys: number;
  readonly payloadBytes: number;
  readonly baselineMessages: number;
  readonly baselineBatch: number;
  readonly serviceLogLevel: string;
  readonly cpuProfileDir: string | undefined;
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Parses the environment (empty values count as unset) with `schema`, or throws a SettingsError naming each problem. */
function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.output<T> {
  const nonEmpty = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(nonEmpty);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new SettingsError(`Invalid benchmark settings:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

export function readSettings(env: NodeJS.ProcessEnv, defaultPartitions: number): BenchSettings {
  const s = parseEnv(settingsSchema, env);
  return {
    runs: s.BENCH_RUNS,
    scenarios: new Set(s.BENCH_ONLY),
    partitions: s.BENCH_PARTITIONS ?? defaultPartitions,
    concurrency: s.BENCH_CONCURRENCY,
    durationMs: s.BENCH_DURATION_S * 1000,
    warmupMs: s.BENCH_WARMUP_S * 1000,
    workflows: s.BENCH_WORKFLOWS,
    drainTimeoutMs: s.BENCH_DRAIN_TIMEOUT_S * 1000,
    queuedPatches: s.BENCH_QUEUED_PATCHES,
    materializeReps: s.BENCH_MATERIALIZE_REPS,
    relayRows: s.BENCH_RELAY_ROWS,
    keys: s.BENCH_KEYS,
    payloadBytes: s.BENCH_PAYLOAD_BYTES,
    baselineMessages: s.BENCH_BASELINE_MESSAGES,
    baselineBatch: s.BENCH_BASELINE_BATCH,
    serviceLogLevel: s.BENCH_SERVICE_LOG_LEVEL,
    cpuProfileDir: s.BENCH_CPU_PROF_DIR,
  };
}

export const RUN_SCENARIOS = ['idle', 'max', 'rate', 'baseline', 'chain'] as const;
export type RunScenario = (typeof RUN_SCENARIOS)[number];

/**
 * The process layout: processes separated by ';' (or whitespace), each a comma-separated role list. One process with
 * everything a run needs by default.
 */
const layout = z
  .string()
  .default('api,outbox-relay,coordinator,run-projector,worker,fanout')
  .transform((value) =>
    value
      .split(/[;\s]+/)
      .filter(Boolean)
      .map((roles) => roles.split(',').map((r) => r.trim())),
  )
  .pipe(z.array(z.array(z.enum(SERVICE_ROLES)).min(1)).min(1))
  .refine((processes) => processes.filter((roles) => roles.includes('api')).length === 1, {
    message: 'exactly one process must run the api',
  })
  .refine(
    (processes) =>
      ['outbox-relay', 'coordinator', 'run-projector', 'worker'].every((role) =>
        processes.some((roles) => roles.includes(role as never)),
      ),
    { message: 'a run needs outbox-relay, coordinator, run-projector and worker somewhere' },
  );

/** How the driver learns that a run ended: its SSE stream (as a client watches it), or polling the projection. */
const RUN_WATCH = ['sse', 'postgres'] as const;

/** The knobs of `npm run bench:runs`; the shared ones (BENCH_RUNS, BENCH_DURATION_S, ...) mean what they mean above. */
const runSettingsSchema = z.object({
  BENCH_RUNS: count(3),
  /**
   * Which scenarios to run (comma-separated): one run at a time, the closed-loop maximum, the fixed rates, the Kafka
   * round-trip baseline, the closed loop's floor (3-node chains through kafkajs alone).
   */
  BENCH_ONLY: commaList(RUN_SCENARIOS.join(','), z.enum(RUN_SCENARIOS)),
  BENCH_PARTITIONS: z.coerce.number().int().positive().max(1024).optional(),
  BENCH_DURATION_S: seconds(10),
  BENCH_WARMUP_S: seconds(5),
  /** Runs in flight in the closed loop: each starter starts its next run once its last one finished. */
  BENCH_RUN_CONCURRENCY: count(512),
  /** Runs measured in the idle mode (one at a time). */
  BENCH_IDLE_RUNS: count(200),
  /** The fixed rates (runs started per second, comma-separated), each an open loop of its own: issue 11's two. */
  BENCH_RUN_RATES: commaList('200,500', z.coerce.number<string>().positive()),
  /** Workflows the runs are spread over (all the same 3-node chain). */
  BENCH_RUN_WORKFLOWS: count(10),
  /** `sse`: each run's end is its terminal event on GET /v1/runs/{id}/events; `postgres`: its finished_at. */
  BENCH_RUN_WATCH: z.enum(RUN_WATCH).default('sse'),
  /** How often the closed loop asks Postgres which of its runs finished (BENCH_RUN_WATCH=postgres). */
  BENCH_RUN_POLL_MS: count(5),
  BENCH_DRAIN_TIMEOUT_S: seconds(120),
  BENCH_SERVICES: layout,
  BENCH_RTT_MESSAGES: count(1_000),
  BENCH_RTT_PIPELINED_MESSAGES: count(20_000),
  BENCH_RTT_WINDOW: count(64),
  BENCH_KEYS: count(400),
  BENCH_PAYLOAD_BYTES: count(200),
  BENCH_SERVICE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('warn'),
  BENCH_CPU_PROF_DIR: z.string().min(1).optional(),
  /**
   * The platform's own variable and rule, read here for its default (one transaction group per coordinator process),
   * so unset must stay unset rather than take the platform's default.
   */
  COORDINATOR_PARTITION_GROUPS: configSchema.shape.COORDINATOR_PARTITION_GROUPS.unwrap().optional(),
});

export interface RunBenchSettings {
  readonly runs: number;
  readonly scenarios: ReadonlySet<RunScenario>;
  readonly partitions: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
  readonly idleRuns: number;
  readonly rates: readonly number[];
  readonly workflows: number;
  readonly pollMs: number;
  readonly watch: (typeof RUN_WATCH)[number];
  readonly drainTimeoutMs: number;
  readonly services: readonly (readonly ServiceRole[])[];
  readonly rttMessages: number;
  readonly rttPipelinedMessages: number;
  readonly rttWindow: number;
  readonly keys: number;
  readonly payloadBytes: number;
  readonly serviceLogLevel: string;
  readonly cpuProfileDir: string | undefined;
  /**
   * The coordinators' COORDINATOR_PARTITION_GROUPS: as many as processes with the coordinator role (1 in the default
   * layout, as `npm start` and the topology set it) unless the environment says otherwise.
   */
  readonly coordinatorGroups: number;
}

export function readRunSettings(env: NodeJS.ProcessEnv, defaultPartitions: number): RunBenchSettings {
  const s = parseEnv(runSettingsSchema, env);
  if (
    s.BENCH_RUN_WATCH === 'sse' &&
    !s.BENCH_SERVICES.some((roles) => roles.includes('api') && roles.includes('fanout'))
  ) {
    throw new SettingsError('BENCH_RUN_WATCH=sse needs the fanout role in the api process (BENCH_SERVICES)');
  }
  return {
    runs: s.BENCH_RUNS,
    scenarios: new Set(s.BENCH_ONLY),
    partitions: s.BENCH_PARTITIONS ?? defaultPartitions,
    durationMs: s.BENCH_DURATION_S * 1000,
    warmupMs: s.BENCH_WARMUP_S * 1000,
    concurrency: s.BENCH_RUN_CONCURRENCY,
    idleRuns: s.BENCH_IDLE_RUNS,
    rates: s.BENCH_RUN_RATES,
    workflows: s.BENCH_RUN_WORKFLOWS,
    pollMs: s.BENCH_RUN_POLL_MS,
    watch: s.BENCH_RUN_WATCH,
    drainTimeoutMs: s.BENCH_DRAIN_TIMEOUT_S * 1000,
    services: s.BENCH_SERVICES,
    rttMessages: s.BENCH_RTT_MESSAGES,
    rttPipelinedMessages: s.BENCH_RTT_PIPELINED_MESSAGES,
    rttWindow: s.BENCH_RTT_WINDOW,
    keys: s.BENCH_KEYS,
    payloadBytes: s.BENCH_PAYLOAD_BYTES,
    serviceLogLevel: s.BENCH_SERVICE_LOG_LEVEL,
    cpuProfileDir: s.BENCH_CPU_PROF_DIR,
    coordinatorGroups:
      s.COORDINATOR_PARTITION_GROUPS ?? s.BENCH_SERVICES.filter((roles) => roles.includes('coordinator')).length,
  };
}

export const CACHE_SCENARIOS = ['agent', 'http', 'lookup'] as const;
export type CacheScenario = (typeof CACHE_SCENARIOS)[number];

/** The knobs of `npm run bench:caches`. */
const cacheSettingsSchema = z.object({
  BENCH_RUNS: count(3),
  /** agent: similar prompts to a slow model; http: one slow GET; lookup: the cache's own latency, in this process. */
  BENCH_ONLY: commaList(CACHE_SCENARIOS.join(','), z.enum(CACHE_SCENARIOS)),
  BENCH_PARTITIONS: z.coerce.number().int().positive().max(1024).optional(),
  /** Users of one workspace running the node one after another (the document's scenario: 10). */
  BENCH_CACHE_USERS: count(10),
  /** How long the stand-in model takes to answer, and the local HTTP server to respond. */
  BENCH_LLM_LATENCY_MS: count(500),
  BENCH_HTTP_LATENCY_MS: count(100),
  /** Lookups timed per kind in the lookup scenario (after as many unmeasured ones). */
  BENCH_LOOKUPS: count(2_000),
  /** Semantic lookups timed per kind (each miss stores an entry the hits then find). */
  BENCH_SEMANTIC_LOOKUPS: count(300),
  BENCH_SERVICE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('warn'),
  BENCH_CPU_PROF_DIR: z.string().min(1).optional(),
});

export interface CacheBenchSettings {
  readonly runs: number;
  readonly scenarios: ReadonlySet<CacheScenario>;
  readonly partitions: number;
  readonly users: number;
  readonly llmLatencyMs: number;
  readonly httpLatencyMs: number;
  readonly lookups: number;
  readonly semanticLookups: number;
  readonly serviceLogLevel: string;
  readonly cpuProfileDir: string | undefined;
}

export function readCacheSettings(env: NodeJS.ProcessEnv, defaultPartitions: number): CacheBenchSettings {
  const s = parseEnv(cacheSettingsSchema, env);
  return {
    runs: s.BENCH_RUNS,
    scenarios: new Set(s.BENCH_ONLY),
    partitions: s.BENCH_PARTITIONS ?? defaultPartitions,
    users: s.BENCH_CACHE_USERS,
    llmLatencyMs: s.BENCH_LLM_LATENCY_MS,
    httpLatencyMs: s.BENCH_HTTP_LATENCY_MS,
    lookups: s.BENCH_LOOKUPS,
    semanticLookups: s.BENCH_SEMANTIC_LOOKUPS,
    serviceLogLevel: s.BENCH_SERVICE_LOG_LEVEL,
    cpuProfileDir: s.BENCH_CPU_PROF_DIR,
  };
}

export const SCALE_SCENARIOS = ['runs', 'patches', 'baseline'] as const;
export type ScaleScenario = (typeof SCALE_SCENARIOS)[number];

/** The knobs of `npm run bench:scale`; the shared ones mean what they mean above. */
const scaleSettingsSchema = z.object({
  /** Cores each budgeted instance (coordinator, function worker, materializer) may use: its cgroup's CFS quota. */
  BENCH_SCALE_CPU: z.coerce.number().positive().max(64).default(0.25),
  /** Instance counts to measure, in order (comma-separated). */
  BENCH_SCALE_STEPS: commaList('1,2,4', z.coerce.number<string>().int().positive().max(64)),
  /** Measurements per step and scenario, each on a fresh sandbox and fresh processes. */
  BENCH_SCALE_REPEATS: count(3),
  BENCH_ONLY: commaList(SCALE_SCENARIOS.join(','), z.enum(SCALE_SCENARIOS)),
  BENCH_PARTITIONS: z.coerce.number().int().positive().max(1024).optional(),
  BENCH_DURATION_S: seconds(10),
  BENCH_WARMUP_S: seconds(5),
  BENCH_RUN_CONCURRENCY: count(512),
  BENCH_RUN_WORKFLOWS: count(10),
  BENCH_RUN_POLL_MS: count(5),
  /** Workflows per materializer the queued patches are spread over, and the POSTs in flight while queueing them. */
  BENCH_WORKFLOWS: count(200),
  BENCH_CONCURRENCY: count(64),
  /** Patches queued per materializer instance before they are let loose; the window lasts until they are worked off. */
  BENCH_SCALE_BACKLOG: count(6_000),
  /** How long the consumer groups may take to become stable (all members joined, lag drained). */
  BENCH_SCALE_STABLE_TIMEOUT_S: seconds(120),
  BENCH_DRAIN_TIMEOUT_S: seconds(120),
  BENCH_RTT_MESSAGES: count(1_000),
  BENCH_RTT_PIPELINED_MESSAGES: count(20_000),
  BENCH_RTT_WINDOW: count(64),
  BENCH_BASELINE_MESSAGES: count(50_000),
  BENCH_BASELINE_BATCH: count(500),
  BENCH_KEYS: count(400),
  BENCH_PAYLOAD_BYTES: count(200),
  BENCH_SERVICE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('warn'),
});

export interface ScaleBenchSettings {
  readonly cpu: number;
  readonly steps: readonly number[];
  readonly repeats: number;
  readonly scenarios: ReadonlySet<ScaleScenario>;
  readonly partitions: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
  readonly runWorkflows: number;
  readonly pollMs: number;
  readonly workflows: number;
  readonly postConcurrency: number;
  readonly backlogPerInstance: number;
  readonly stableTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly rttMessages: number;
  readonly rttPipelinedMessages: number;
  readonly rttWindow: number;
  readonly baselineMessages: number;
  readonly baselineBatch: number;
  readonly keys: number;
  readonly payloadBytes: number;
  readonly serviceLogLevel: string;
}

export function readScaleSettings(env: NodeJS.ProcessEnv, defaultPartitions: number): ScaleBenchSettings {
  const s = parseEnv(scaleSettingsSchema, env);
  return {
    cpu: s.BENCH_SCALE_CPU,
    steps: s.BENCH_SCALE_STEPS,
    repeats: s.BENCH_SCALE_REPEATS,
    scenarios: new Set(s.BENCH_ONLY),
    partitions: s.BENCH_PARTITIONS ?? defaultPartitions,
    durationMs: s.BENCH_DURATION_S * 1000,
    warmupMs: s.BENCH_WARMUP_S * 1000,
    concurrency: s.BENCH_RUN_CONCURRENCY,
    runWorkflows: s.BENCH_RUN_WORKFLOWS,
    pollMs: s.BENCH_RUN_POLL_MS,
    workflows: s.BENCH_WORKFLOWS,
    postConcurrency: s.BENCH_CONCURRENCY,
    backlogPerInstance: s.BENCH_SCALE_BACKLOG,
    stableTimeoutMs: s.BENCH_SCALE_STABLE_TIMEOUT_S * 1000,
    drainTimeoutMs: s.BENCH_DRAIN_TIMEOUT_S * 1000,
    rttMessages: s.BENCH_RTT_MESSAGES,
    rttPipelinedMessages: s.BENCH_RTT_PIPELINED_MESSAGES,
    rttWindow: s.BENCH_RTT_WINDOW,
    baselineMessages: s.BENCH_BASELINE_MESSAGES,
    baselineBatch: s.BENCH_BASELINE_BATCH,
    keys: s.BENCH_KEYS,
    payloadBytes: s.BENCH_PAYLOAD_BYTES,
    serviceLogLevel: s.BENCH_SERVICE_LOG_LEVEL,
  };
}
