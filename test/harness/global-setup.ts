import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { dropDatabase, migrate, MIGRATIONS_DIR, splitDatabaseUrl, VECTOR_MIGRATIONS_DIR, withDatabase } from '#libs/db';
import { startContainers } from './containers.js';
import { s3Unreachable, TEST_S3 } from './test-bucket.js';
import {
  addressesFromEnv,
  addressesToEnv,
  chooseStackMode,
  LOCAL_STACK,
  type StackAddresses,
} from './stack-addresses.js';

/**
 * Every test file clones this database (CREATE DATABASE ... TEMPLATE), which is far faster than migrating anew. Its
 * name carries a digest of the migrations: worktrees with other migrations that share the Postgres server build their
 * own template instead of replacing this one under running tests.
 */
async function templateDatabase(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort()) {
    hash.update(file).update(await readFile(join(MIGRATIONS_DIR, file)));
  }
  return `orchestrator_test_template_${hash.digest('hex').slice(0, 12)}`;
}

let stopContainers: (() => Promise<void>) | undefined;

async function reachable(addresses: Omit<StackAddresses, 'mode'>): Promise<string[]> {
  const problems: string[] = [];
  const client = new pg.Client({ connectionString: withDatabase(addresses.databaseUrl, 'postgres') });
  await client
    .connect()
    .then(() => client.end())
    .catch((e: Error) => problems.push(`Postgres at ${addresses.databaseUrl}: ${e.message}`));
  const vector = new pg.Client({ connectionString: withDatabase(addresses.vectorDatabaseUrl, 'postgres') });
  await vector
    .connect()
    .then(() => vector.end())
    .catch((e: Error) => problems.push(`pgvector at ${addresses.vectorDatabaseUrl}: ${e.message}`));
  await fetch(`${addresses.schemaRegistryUrl}/subjects`)
    .then((r) => {
      if (!r.ok) problems.push(`Schema Registry at ${addresses.schemaRegistryUrl}: HTTP ${r.status}`);
    })
    .catch((e: Error) => problems.push(`Schema Registry at ${addresses.schemaRegistryUrl}: ${e.message}`));
  const [host, port] = (addresses.kafkaBrokers.split(',')[0] ?? '').split(':');
  const net = await import('node:net');
  await new Promise<void>((resolve) => {
    const socket = net.connect({ host, port: Number(port), timeout: 2000 }, () => {
      socket.end();
      resolve();
    });
    socket.on('error', (e) => {
      problems.push(`Kafka at ${addresses.kafkaBrokers}: ${e.message}`);
      resolve();
    });
  });
  return problems;
}

/** Rebuilt on every run so it always matches the migrations folder. */
async function buildTemplate(databaseUrl: string, template: string): Promise<void> {
  await dropDatabase(withDatabase(databaseUrl, template));
  await migrate(withDatabase(databaseUrl, template), MIGRATIONS_DIR);
}

export async function globalSetup(): Promise<void> {
  const mode = await chooseStackMode();
  let base: Omit<StackAddresses, 'mode'> = LOCAL_STACK;
  if (mode === 'containers') {
    const containers = await startContainers();
    stopContainers = containers.stop;
    base = containers.addresses;
  }
  const addresses = { ...base, ...addressesFromEnv(process.env) };
  const problems = [...(await reachable(addresses)), ...(await s3Unreachable())];
  if (problems.length) {
    throw new Error(
      `The test stack (${mode}) is not reachable:\n  ${problems.join('\n  ')}\n` +
        'Start it with `npm run stack:up -- --s3proxy`, or point KAFKA_BROKERS, DATABASE_URL, REDIS_URL, SCHEMA_REGISTRY_URL, ' +
        'VECTOR_DATABASE_URL and CAS_S3_ENDPOINT at one.',
    );
  }
  const template = await templateDatabase();
  await buildTemplate(addresses.databaseUrl, template);
  // One semantic cache for every file (PGlite is one database): files keep apart by workspace ids, which are new per
  // file (each file's database makes its own workspaces), and every statement of the cache is scoped to one.
  await migrate(addresses.vectorDatabaseUrl, VECTOR_MIGRATIONS_DIR);
  // Test files run in child processes, which inherit this environment.
  Object.assign(process.env, addressesToEnv(addresses), {
    CAS_S3_ENDPOINT: TEST_S3.endpoint,
    TEST_STACK_MODE: mode,
    TEST_DATABASE_TEMPLATE: template,
    TEST_DATABASE_SERVER: splitDatabaseUrl(addresses.databaseUrl).maintenanceUrl,
  });
  process.stderr.write(`test stack: ${mode} (${JSON.stringify(addresses)})\n`);
}

export async function globalTeardown(): Promise<void> {
  await stopContainers?.();
}
