import { z } from 'zod';

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const seconds = (fallback: number) => z.coerce.number().nonnegative().default(fallback);

export const SCENARIOS = ['load', 'queued', 'relay', 'baseline'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Every knob of the benchmark, from `BENCH_*` variables; the defaults keep one invocation under five minutes. */
const settingsSchema = z.object({
  BENCH_RUNS: count(3),
  /** Which scenarios to run (comma-separated); all by default. */
  BENCH_ONLY: z
    .string()
    .default(SCENARIOS.join(','))
    .transform((value) => value.split(',').map((s) => s.trim()))
    .pipe(z.array(z.enum(SCENARIOS)).min(1)),
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

export function readSettings(env: NodeJS.ProcessEnv, defaultPartitions: number): BenchSettings {
  const nonEmpty = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = settingsSchema.safeParse(nonEmpty);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new SettingsError(`Invalid benchmark settings:\n${problems.join('\n')}`);
  }
  const s = parsed.data;
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
