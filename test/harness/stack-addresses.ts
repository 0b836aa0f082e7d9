/**
 * Where the services a test needs are. In order: addresses given in the environment; else containers started with
 * testcontainers when a container runtime answers; else the local services `npm run stack:up` starts.
 */
export interface StackAddresses {
  readonly mode: 'env' | 'containers' | 'local';
  readonly kafkaBrokers: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly schemaRegistryUrl: string;
  /** Postgres with pgvector, for the semantic cache. */
  readonly vectorDatabaseUrl: string;
}

export const LOCAL_STACK: Omit<StackAddresses, 'mode'> = {
  kafkaBrokers: '127.0.0.1:9092',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/orchestrator',
  redisUrl: 'redis://127.0.0.1:6379',
  schemaRegistryUrl: 'http://127.0.0.1:8081/apis/ccompat/v7',
  vectorDatabaseUrl: 'postgres://postgres@127.0.0.1:5433/postgres',
};

const ENV_NAMES = {
  kafkaBrokers: 'KAFKA_BROKERS',
  databaseUrl: 'DATABASE_URL',
  redisUrl: 'REDIS_URL',
  schemaRegistryUrl: 'SCHEMA_REGISTRY_URL',
  vectorDatabaseUrl: 'VECTOR_DATABASE_URL',
} as const;

export function addressesFromEnv(env: NodeJS.ProcessEnv): Partial<Omit<StackAddresses, 'mode'>> {
  return Object.fromEntries(Object.entries(ENV_NAMES).flatMap(([key, name]) => (env[name] ? [[key, env[name]]] : [])));
}

export function addressesToEnv(addresses: Omit<StackAddresses, 'mode'>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(ENV_NAMES).map(([key, name]) => [name, addresses[key as keyof typeof ENV_NAMES]]),
  );
}

/** True when a Docker-compatible runtime answers; `TESTCONTAINERS=off` skips the probe. */
export async function containerRuntimeAvailable(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (env.TESTCONTAINERS === 'off') return false;
  const { getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function chooseStackMode(env: NodeJS.ProcessEnv = process.env): Promise<StackAddresses['mode']> {
  if (Object.keys(addressesFromEnv(env)).length === Object.keys(ENV_NAMES).length) return 'env';
  return (await containerRuntimeAvailable(env)) ? 'containers' : 'local';
}
