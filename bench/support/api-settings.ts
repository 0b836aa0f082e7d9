import { z } from 'zod';
import { SettingsError } from './settings.js';

/**
 * The runtime-settings variants of `npm run bench:api`, each the API's environment on top of the platform's: `off`
 * (no TCP_NODELAY, no TCP keep-alive, Node's own 5 s HTTP keep-alive timeout, one process), `on-1` (the defaults: all
 * on, one process), `on-2` (the defaults with two processes sharing the port through SO_REUSEPORT). HTTP keep-alive
 * turned off altogether (HTTP_KEEP_ALIVE_TIMEOUT_MS=0) is not a variant: autocannon ignores `connection: close`, and
 * with its reconnectRate it drops the answer it reconnects after (bench/README.md).
 */
export const API_VARIANTS = {
  off: {
    HTTP_NO_DELAY: 'false',
    HTTP_TCP_KEEPALIVE: 'false',
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '5000',
    HTTP_PROCESSES: '1',
  },
  'on-1': { HTTP_PROCESSES: '1' },
  'on-2': { HTTP_PROCESSES: '2' },
} as const satisfies Record<string, Record<string, string>>;
export type ApiVariant = keyof typeof API_VARIANTS;

export const API_TARGETS = ['health', 'patch'] as const;
export type ApiTarget = (typeof API_TARGETS)[number];

const list = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .string()
    .default(values.join(','))
    .transform((value) => value.split(',').map((s) => s.trim()))
    .pipe(z.array(z.enum(values)).min(1));

const apiSettingsSchema = z.object({
  BENCH_RUNS: z.coerce.number().int().positive().default(3),
  BENCH_API_VARIANTS: list(Object.keys(API_VARIANTS) as [ApiVariant, ...ApiVariant[]]),
  BENCH_API_TARGETS: list(API_TARGETS),
  /** Connections autocannon keeps open, one request in flight on each (no pipelining). */
  BENCH_CONNECTIONS: z.coerce.number().int().positive().max(10_000).default(64),
  BENCH_DURATION_S: z.coerce.number().int().positive().default(10),
  BENCH_WARMUP_S: z.coerce.number().int().nonnegative().default(3),
  /** Workflows the patch POSTs go round-robin over. */
  BENCH_WORKFLOWS: z.coerce.number().int().positive().default(200),
  BENCH_SERVICE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('warn'),
});

export interface ApiBenchSettings {
  readonly runs: number;
  readonly variants: readonly ApiVariant[];
  readonly targets: readonly ApiTarget[];
  readonly connections: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly workflows: number;
  readonly partitions: number;
  readonly serviceLogLevel: string;
}

export function readApiSettings(env: NodeJS.ProcessEnv, defaultPartitions: number): ApiBenchSettings {
  const nonEmpty = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = apiSettingsSchema.safeParse(nonEmpty);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new SettingsError(`Invalid benchmark settings:\n${problems.join('\n')}`);
  }
  const s = parsed.data;
  return {
    runs: s.BENCH_RUNS,
    variants: s.BENCH_API_VARIANTS,
    targets: s.BENCH_API_TARGETS,
    connections: s.BENCH_CONNECTIONS,
    durationS: s.BENCH_DURATION_S,
    warmupS: s.BENCH_WARMUP_S,
    workflows: s.BENCH_WORKFLOWS,
    partitions: defaultPartitions,
    serviceLogLevel: s.BENCH_SERVICE_LOG_LEVEL,
  };
}
