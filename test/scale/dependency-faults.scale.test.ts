import assert from 'node:assert/strict';
import { before, describe, it, type TestContext as NodeTestContext } from 'node:test';
import { createPool, migrate, MIGRATIONS_DIR, type Pool } from '#libs/db';
import { applyTopics, createKafka, openAdmin } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { eventually } from '#test/support/app.js';
import { faultFigures, type FaultTimes } from '#test/support/faults/fault-figures.js';
import { probeHealth } from '#test/support/faults/health-probe.js';
import { loadAnomalies, loadDrained } from '#test/support/faults/load-invariants.js';
import {
  createLoadWorkflow,
  LOAD_DEFINITIONS,
  MixedLoad,
  type LoadWorkflows,
} from '#test/support/faults/mixed-load.js';
import { startPrivateKafka } from '#test/support/private/private-kafka.js';
import { startPrivatePostgres } from '#test/support/private/private-postgres.js';
import { startPrivateRedis } from '#test/support/private/private-redis.js';
import { startPrivateRegistry } from '#test/support/private/private-registry.js';
import type { PrivateService } from '#test/support/private/service.js';
import { startRoleProcess, type RoleProcess } from '#test/support/role-process.js';

/**
 * Each dependency fails in the middle of a load of runs and patches, and comes back: Redis and the registry are
 * stopped, Postgres is shut down immediately (every connection cut), the Kafka broker is SIGKILLed. Every role runs
 * in one all-in-one process that nobody restarts. Afterwards no accepted run or patch is lost or applied twice,
 * every run ended, and `/health` named the missing dependency while it was down and was 200 again after.
 *
 * The services are this file's own (a PostgreSQL cluster, redis-server, Kafka broker and Apicurio registry on free
 * ports), so the shared stack other test files use is never touched.
 */
const ctx = useTestContext('dependency-faults');
/** How long each dependency stays down. */
const OUTAGE_MS = 8_000;
/** Load before the fault and after the dependency is back. */
const LOAD_AROUND_MS = 4_000;

interface Stack {
  postgres: PrivateService;
  redis: PrivateService;
  kafka: PrivateService;
  registry: PrivateService;
  app: RoleProcess;
  pool: Pool;
  baseUrl: string;
}

async function startStack(): Promise<Stack> {
  const defer = (cleanup: () => unknown) => ctx.defer(cleanup);
  const [postgres, redis, kafka, registry] = await Promise.all([
    startPrivatePostgres(defer),
    startPrivateRedis(defer),
    startPrivateKafka(defer),
    startPrivateRegistry(defer),
  ]);
  const databaseUrl = `${postgres.address}/orchestrator`;
  await migrate(databaseUrl, MIGRATIONS_DIR);
  const admin = openAdmin(
    createKafka({ brokers: [kafka.address], clientId: ctx.id, logger: ctx.logger }),
    'dependency-faults-topics',
  );
  await admin.connect();
  try {
    await applyTopics(admin, ctx.topics);
  } finally {
    await admin.disconnect();
  }
  const app = await startRoleProcess(ctx, 'all-in-one', {
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: kafka.address,
    REDIS_URL: redis.address,
    SCHEMA_REGISTRY_URL: registry.address,
    // The roles log every lost connection while a dependency is down; the output is shown only if a test fails.
    LOG_LEVEL: 'warn',
  });
  const pool = createPool(databaseUrl, { name: 'dependency-faults-check' });
  ctx.defer(() => pool.end());
  return { postgres, redis, kafka, registry, app, pool, baseUrl: `http://127.0.0.1:${app.port}` };
}

const createWorkflow = (baseUrl: string, definition: unknown) => createLoadWorkflow(baseUrl, definition, 'faults');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('each dependency down and back in the middle of a load (DESIGN §3 invariants 1-4)', () => {
  let stack: Stack;
  let runWorkflows: Omit<LoadWorkflows, 'patched'>;

  before(async () => {
    stack = await startStack();
    runWorkflows = {
      chain: await createWorkflow(stack.baseUrl, LOAD_DEFINITIONS.chain),
      delay: await createWorkflow(stack.baseUrl, LOAD_DEFINITIONS.delay),
    };
  });

  /**
   * Load, fault, restore, drain; then the invariants and /health's answers while it was down. The figures go to the
   * test's diagnostics (they end up in the output of `npm test`).
   */
  const survive = async (t: NodeTestContext, fault: string, service: () => PrivateService) => {
    const dependency = service();
    const patched = await Promise.all([1, 2, 3, 4].map(() => createWorkflow(stack.baseUrl, LOAD_DEFINITIONS.patched)));
    const load = new MixedLoad(stack.baseUrl, { ...runWorkflows, patched }, fault.replace(/\W+/g, '_'));
    const health = probeHealth(`${stack.baseUrl}/health`);
    // Nobody restarts the process: if it dies, the fault is not survived, and waiting on would only time out.
    const died = stack.app
      .current()
      .exited()
      .then((code) => {
        throw new Error(`the all-in-one process exited (${code}) during "${fault}"`);
      });
    died.catch(() => undefined);
    const unlessDied = <T>(work: Promise<T>) => Promise.race([work, died]);
    try {
      load.start();
      await sleep(LOAD_AROUND_MS);
      const stopping = Date.now();
      await dependency.down();
      const injected = Date.now();
      await sleep(OUTAGE_MS);
      const restoring = Date.now();
      await unlessDied(dependency.up());
      const restored = Date.now();
      await sleep(LOAD_AROUND_MS);
      await unlessDied(load.stop());
      await unlessDied(
        eventually(
          async () => ((await loadDrained(stack.pool, load, patched).catch(() => false)) ? true : undefined),
          `${fault}: every accepted run ended and every patch decided`,
          60_000,
        ),
      );
      const times: FaultTimes = { stopping, injected, restoring, restored, drained: Date.now() };
      await eventually(
        () => Promise.resolve(health.answers.some((h) => h.at >= restored && h.status === 200) ? true : undefined),
        `${fault}: /health 200 again`,
        30_000,
      );
      await health.stop();
      const figures = faultFigures(fault, times, load, health.answers);
      t.diagnostic(JSON.stringify(figures));

      // A dependency outage is a 503 (retry later), never a 500 (a bug).
      assert.deepEqual(
        load.refusals.filter((r) => r.status !== 503),
        [],
        `${fault}: refused only with 503`,
      );
      assert.deepEqual(await loadAnomalies(stack.pool, load, patched), [], `${fault}: nothing lost or applied twice`);
      // Only answers sent after the fault and back before the repair: the server's probe for one sent just before the
      // repair may run after it (the process is busy with the load), and then 200 is the truth.
      const during = health.answers.filter((h) => h.at >= injected && h.answeredAt < restoring);
      const named = during.filter((h) => h.status === 503 && h.failing.includes(dependency.check));
      assert.ok(
        named.length > 0,
        `${fault}: /health named ${dependency.check} while it was down: ${JSON.stringify(figures.health)}`,
      );
      // Once it has noticed, it keeps saying so until the dependency is back.
      const afterNoticed = during.filter((h) => h.at >= (named[0]?.at ?? 0));
      assert.deepEqual(
        afterNoticed.filter((h) => h.status !== 503 || !h.failing.includes(dependency.check)),
        [],
        `${fault}: /health told the truth until the dependency was back`,
      );
      assert.ok(load.runs.length > 0 && load.patches.length > 0);
    } catch (error) {
      t.diagnostic(`all-in-one output (tail):\n${stack.app.current().output().slice(-6_000)}`);
      throw error;
    } finally {
      await health.stop();
      await load.abandon();
    }
  };

  it('Redis stopped: requests that do not need it are served; /health names redis', (t) =>
    survive(t, 'redis stopped', () => stack.redis));
  it('registry stopped: events still flow; /health names schemaRegistry', (t) =>
    survive(t, 'registry stopped', () => stack.registry));
  it('Postgres shut down immediately and restarted: POSTs refused with 503 while down, nothing lost', (t) =>
    survive(t, 'postgres restarted', () => stack.postgres));
  it('Kafka broker SIGKILLed and restarted: POSTs still accepted (outbox), every run ends', (t) =>
    survive(t, 'kafka killed', () => stack.kafka));
});
