import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import type { AppConfig } from '#libs/config';
import { createPool } from '#libs/db';
import { applyTopics, createKafka, openAdmin } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { eventually, startRoles } from '#test/support/app.js';
import { startPrivateKafka } from '#test/support/private/private-kafka.js';
import { createWorkflow, runEventAnomalies, startRun } from '#test/support/runs.js';

const ctx = useTestContext('broker-restart');
const fn = (expression: string) => ({ type: 'function', config: { expression } });

/**
 * The broker itself dies (SIGKILL) in the middle of the load and comes back: producers, consumers and the
 * coordinator's transactional producers reconnect, the transactions open at the crash are aborted, and every run
 * still ends once with its output. A broker of its own (same jars, its own ports and data), so the other test files
 * keep theirs.
 */
describe('runs across a Kafka broker crash and restart (invariant 3)', () => {
  it('ends every run with its output, its events numbered 1..n', async () => {
    const broker = await startPrivateKafka((cleanup) => ctx.defer(cleanup));

    const config: AppConfig = {
      ...ctx.config,
      KAFKA_BROKERS: [broker.address],
      CONSUMER_SESSION_TIMEOUT_MS: 6_000,
      // Every client logs its lost connections while the broker is down: hundreds of expected lines. TEST_LOG_LEVEL
      // shows them when wanted.
      LOG_LEVEL: (process.env.TEST_LOG_LEVEL as AppConfig['LOG_LEVEL'] | undefined) ?? 'fatal',
    };
    const kafka = createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: ctx.id,
      logger: ctx.logger.child({}, { level: config.LOG_LEVEL }),
    });
    const admin = openAdmin(kafka, 'broker-restart-topics');
    await admin.connect();
    await applyTopics(admin, ctx.topics);
    await admin.disconnect();

    const api = await startRoles(
      ctx,
      [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole],
      config,
    );
    const chain = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1'), c: fn('nodes.b * 2') },
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
    });
    const delayed = await createWorkflow(api, {
      nodes: { wait: { type: 'delay', config: { ms: 1_000 } }, after: fn('input.x') },
      edges: [{ from: 'wait', to: 'after' }],
    });
    const pool = createPool(ctx.databaseUrl, { name: 'broker-restart-check' });
    ctx.defer(() => pool.end());

    const runs: { id: string; x: number; delayed: boolean }[] = [];
    let stop = false;
    // Starts keep being accepted while the broker is down: they wait in the outbox (202 means durable).
    const starting = (async () => {
      for (let x = 0; !stop; x++) {
        const isDelayed = x % 3 === 0;
        runs.push({ id: await startRun(api, isDelayed ? delayed : chain, { x }), x, delayed: isDelayed });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const finished = async () =>
      (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs WHERE finished_at IS NOT NULL')).rows[0]
        ?.n ?? 0;
    /** Of the runs started since the `from`th, how many the query counts (it gets their ids as $1). */
    const countSince = async (from: number, sql: string) =>
      (await pool.query<{ n: number }>(sql, [runs.slice(from).map((r) => r.id)])).rows[0]?.n ?? 0;
    await eventually(async () => ((await finished()) >= 100 ? true : undefined), '100 runs ended', 60_000);
    await broker.down();
    // Down until /health names Kafka and starts accepted since the crash wait in the outbox.
    const startedBeforeCrash = runs.length;
    await eventually(
      async () => {
        const health = await api.request<{ checks?: Record<string, { ok: boolean }> }>('GET', '/health');
        if (health.status !== 503 || health.body.checks?.kafka?.ok !== false) return undefined;
        const waiting = await countSince(
          startedBeforeCrash,
          'SELECT count(*)::int AS n FROM outbox WHERE message_key = ANY($1::text[])',
        );
        return waiting > 0 ? true : undefined;
      },
      'the broker noticed gone and starts waiting in the outbox',
      30_000,
    );
    const inFlight = runs.length - (await finished());
    await broker.up();
    // The load goes on until a run started after the restart has ended: the platform works again end to end.
    const startedBeforeRestart = runs.length;
    await eventually(
      async () => {
        const ended = await countSince(
          startedBeforeRestart,
          'SELECT count(*)::int AS n FROM runs WHERE finished_at IS NOT NULL AND id = ANY($1::uuid[])',
        );
        return ended > 0 ? true : undefined;
      },
      'a run started after the restart ended',
      60_000,
    );
    stop = true;
    await starting;
    assert.ok(inFlight > 0, `runs in flight at the crash: ${inFlight}`);

    await eventually(
      async () => ((await finished()) === runs.length ? true : undefined),
      `all ${runs.length} runs ended`,
      120_000,
    );
    const { rows } = await pool.query<{ id: string; status: string; output: unknown }>(
      'SELECT id, status, output FROM runs WHERE id = ANY($1::uuid[])',
      [runs.map((r) => r.id)],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const r of runs) {
      const row = byId.get(r.id);
      assert.equal(row?.status, 'completed', JSON.stringify(row));
      assert.deepEqual(row.output, r.delayed ? { after: r.x } : { c: (r.x + 1) * 2 });
    }
    assert.deepEqual(
      await runEventAnomalies(
        pool,
        runs.map((r) => r.id),
      ),
      [],
    );
    ctx.logger.warn({ runs: runs.length, inFlight }, 'broker restart: runs, and runs in flight at the crash');
  });
});
