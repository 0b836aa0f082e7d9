import { connect } from 'node:net';
import pg from 'pg';
import { ConfigError, loadConfig, type AppConfig } from '#libs/config';
import { redact, splitDatabaseUrl } from '#libs/db';
import { SettingsError } from './settings.js';

export interface StackFacts {
  readonly postgresVersion: string;
  readonly synchronousCommit: string;
}

export type StackCheck = { ok: true; facts: StackFacts } | { ok: false; problems: string[] };

function reachable(host: string, port: number, what: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.end();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`${what} at ${host}:${port}: no answer within 2 s`);
    });
    socket.once('error', (error) => resolve(`${what} at ${host}:${port}: ${error.message}`));
  });
}

/** Whether Postgres, Redis, Kafka and the schema registry answer, and what Postgres is (for the report's header). */
export async function checkStack(config: AppConfig): Promise<StackCheck> {
  const problems: string[] = [];
  const [broker] = config.KAFKA_BROKERS;
  const [kafkaHost, kafkaPort] = (broker ?? '').split(':');
  const redis = new URL(config.REDIS_URL);
  const sockets = await Promise.all([
    reachable(kafkaHost ?? '127.0.0.1', Number(kafkaPort), 'Kafka'),
    reachable(redis.hostname, Number(redis.port || 6379), 'Redis'),
  ]);
  problems.push(...sockets.filter((p): p is string => p !== undefined));
  await fetch(`${config.SCHEMA_REGISTRY_URL}/subjects`, { signal: AbortSignal.timeout(3_000) })
    .then((response) => {
      if (!response.ok) problems.push(`Schema Registry at ${config.SCHEMA_REGISTRY_URL}: HTTP ${response.status}`);
    })
    .catch((error: Error) => problems.push(`Schema Registry at ${config.SCHEMA_REGISTRY_URL}: ${error.message}`));

  const { maintenanceUrl } = splitDatabaseUrl(config.DATABASE_URL);
  const client = new pg.Client({ connectionString: maintenanceUrl, connectionTimeoutMillis: 3_000 });
  let facts: StackFacts | undefined;
  try {
    await client.connect();
    const version = await client.query<{ server_version: string }>('SHOW server_version');
    const commit = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    facts = {
      postgresVersion: version.rows[0]?.server_version ?? '?',
      synchronousCommit: commit.rows[0]?.synchronous_commit ?? '?',
    };
  } catch (error) {
    problems.push(`Postgres at ${redact(maintenanceUrl)}: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return problems.length || !facts ? { ok: false, problems } : { ok: true, facts };
}

/**
 * What every benchmark does first: read the platform's config and the benchmark's settings, and check the stack is
 * up. Undefined (with the reason on stderr and the exit code set) when it cannot start.
 */
export async function prepareBenchmark<S>(
  readBenchSettings: (env: NodeJS.ProcessEnv, defaultPartitions: number) => S,
): Promise<{ base: AppConfig; settings: S; facts: StackFacts } | undefined> {
  let base: AppConfig;
  let settings: S;
  try {
    base = loadConfig();
    settings = readBenchSettings(process.env, base.KAFKA_PARTITIONS);
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof SettingsError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
    return undefined;
  }
  const stack = await checkStack(base);
  if (!stack.ok) {
    process.stderr.write(
      `The local stack is not up, so there is nothing to benchmark against:\n${stack.problems.map((p) => `  - ${p}`).join('\n')}\n` +
        'Start it with `npm run stack:up` (or `npm start`), check it with `npm run stack:status`, then run this again.\n',
    );
    process.exitCode = 2;
    return undefined;
  }
  return { base, settings, facts: stack.facts };
}
