import { InvalidArgumentError } from 'commander';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { loadConfig, type AppConfig } from '#libs/config';
import { createKafka, openAdmin, topicCatalog, type Admin, type Kafka, type TopicSpec } from '#libs/kafka';

/** Exit codes: what a script calling the CLI can rely on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, unauthorized: 4 } as const;

/** An error the CLI reports as one line on stderr, with the exit code it stands for. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

/**
 * Client library logs (kafkajs) go to stderr and are off unless ORCHESTRATOR_CLI_LOG_LEVEL asks for them: the CLI
 * reports its own failure as one line, and stdout belongs to the command's output.
 */
export const cliLogger = (): Logger =>
  pino({ level: process.env.ORCHESTRATOR_CLI_LOG_LEVEL ?? 'silent' }, pino.destination(2));

let cachedConfig: AppConfig | undefined;
export function config(): AppConfig {
  cachedConfig ??= loadConfig();
  return cachedConfig;
}

export function catalog(): TopicSpec[] {
  const c = config();
  return topicCatalog({
    prefix: c.KAFKA_TOPIC_PREFIX,
    partitions: c.KAFKA_PARTITIONS,
    replicationFactor: c.KAFKA_REPLICATION_FACTOR,
  });
}

export function kafka(): Kafka {
  const c = config();
  return createKafka({ brokers: c.KAFKA_BROKERS, clientId: `${c.KAFKA_CLIENT_ID}-cli`, logger: cliLogger() });
}

/** Runs `use` with a connected admin client and disconnects it afterwards. */
export async function withAdmin<T>(use: (admin: Admin, kafka: Kafka) => Promise<T>): Promise<T> {
  const k = kafka();
  const admin = openAdmin(k, 'cli');
  // kafkajs retries a refused connection for about half a minute; an operator wants the answer sooner.
  const timeoutMs = Number(process.env.ORCHESTRATOR_CLI_KAFKA_TIMEOUT_MS ?? 10_000);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      admin.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    throw new CliError(`cannot reach Kafka at ${config().KAFKA_BROKERS.join(',')}: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  try {
    return await use(admin, k);
  } finally {
    await admin.disconnect();
  }
}

/** Runs `use` with a connected Postgres client (DATABASE_URL) and closes it afterwards. */
export async function withPostgres<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: config().DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new CliError(`cannot connect to Postgres (DATABASE_URL): ${(error as Error).message}`);
  }
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * Accepts a topic by its full or its logical name (without this deployment's prefix) and returns the full name, or
 * fails with exit code 3 naming the known topics.
 */
export async function resolveTopic(admin: Admin, name: string, filter?: (topic: string) => boolean): Promise<string> {
  const prefix = config().KAFKA_TOPIC_PREFIX;
  const existing = (await admin.listTopics())
    .filter((t) => t.startsWith(prefix) && !t.startsWith('__'))
    .filter((t) => !filter || filter(t))
    .sort();
  for (const candidate of [name, `${prefix}${name}`]) {
    if (existing.includes(candidate)) return candidate;
  }
  const known = existing.map((t) => t.slice(prefix.length));
  throw new CliError(`unknown topic "${name}" (known: ${known.length ? known.join(', ') : 'none'})`, EXIT.notFound);
}

export const out = (line: string): void => void process.stdout.write(`${line}\n`);
export const progress = (line: string): void => void process.stderr.write(`${line}\n`);

export const json = (value: unknown): string => JSON.stringify(value);

/** Parses a non-negative integer option, or fails as a usage error. */
export function intOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

/** A plain text table, columns padded to their widest cell. */
export function table(header: string[], rows: (string | number | null)[][]): string[] {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** Aborts when the user presses Ctrl-C: a command reading a topic stops and cleans up instead of dying mid-way. */
export function interrupted(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return controller.signal;
}
