import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestHttpServer } from '#apps/worker/src/http/test-http-server.js';
import { createPool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { ADMIN_KEY, createTopics, eventually } from '#test/support/app.js';
import { startRoleProcess, type RoleProcess } from '#test/support/role-process.js';
import { runEventAnomalies } from '#test/support/runs.js';

/**
 * DESIGN §3 invariants 3, 4 and 5 on the Kafka-transaction path: a mix of chains, diamonds with a skipped branch,
 * retried http nodes (whose external effect must happen once per run, under one Idempotency-Key per attempt), delays
 * and approvals, while every role is SIGKILLed and restarted in turn (the API too: clients
 * retry their POSTs with the same Idempotency-Key), and the coordinator group goes from two processes to three and
 * loses one mid-load. Every run must end with the right output and attempt counts, each completion applied once, its
 * projected events numbered 1..n.
 */
const ctx = useTestContext('run-chaos-mixed', { partitions: 6 });
/** Runs started per kind every STEP_MS, until the last kill is done. */
const PER_STEP = 2;
const STEP_MS = 150;
const fn = (expression: string) => ({ type: 'function', config: { expression } });

describe('mixed runs while every role is SIGKILLed and the coordinators rebalance (invariants 3, 4, 5)', () => {
  it(
    'ends every run with its output, the right attempts, and each completion applied once',
    { timeout: 300_000 },
    async () => {
      await createTopics(ctx);
      // The "external system": the first attempt of each node fails, the second succeeds. It applies an effect once per
      // Idempotency-Key and replays its answer for a repeated key (a worker killed mid-call sends the same key again),
      // counting effects per run, so an attempt that got a key of its own where it should not shows up as 2.
      const effects = new Map<string, number>();
      const answers = new Map<string, string>();
      const keysSeen = new Set<string>();
      const server = await startTestHttpServer((request, response) => {
        const key = String(request.headers['idempotency-key']);
        keysSeen.add(key);
        const attempt = Number(key.split(':')[2]);
        if (attempt === 1) {
          response.writeHead(503).end('try again');
          return;
        }
        let answer = answers.get(key);
        if (answer === undefined) {
          const runId = key.split(':')[0] as string;
          effects.set(runId, (effects.get(runId) ?? 0) + 1);
          answer = '{"ok":true}';
          answers.set(key, answer);
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end(answer);
      });
      ctx.defer(() => server.close());

      const env = { SSRF_ALLOWED_HOSTS: '127.0.0.1' };
      const api = await startRoleProcess(ctx, 'api', env);
      const relay = await startRoleProcess(ctx, 'outbox-relay', env);
      const coordinators = [
        await startRoleProcess(ctx, 'coordinator', env),
        await startRoleProcess(ctx, 'coordinator', env),
      ];
      const projector = await startRoleProcess(ctx, 'run-projector', env);
      const worker = await startRoleProcess(ctx, 'worker', env);
      const pool = createPool(ctx.databaseUrl, { name: 'chaos-mixed-check' });
      ctx.defer(() => pool.end());

      /** A request to whichever API process is up; retried while it is down. */
      const call = async (
        method: 'GET' | 'POST',
        path: string,
        body?: unknown,
        headers: Record<string, string> = {},
      ) => {
        for (let attempt = 1; ; attempt++) {
          try {
            const response = await fetch(`http://127.0.0.1:${api.port}${path}`, {
              method,
              headers: {
                authorization: `Bearer ${ADMIN_KEY}`,
                ...(body === undefined ? {} : { 'content-type': 'application/json' }),
                ...headers,
              },
              ...(body === undefined ? {} : { body: JSON.stringify(body) }),
              signal: AbortSignal.timeout(10_000),
            });
            if (response.status < 500) return { status: response.status, body: await response.json() };
          } catch {
            // the API process is down or was killed mid-request: the same request again, as a client would
          }
          if (attempt > 200) throw new Error(`${method} ${path} kept failing`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      const workflow = async (definition: unknown) => {
        const reply = await call('POST', '/v1/workflows', { name: 'chaos', definition });
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
        return (reply.body as { id: string }).id;
      };
      const kinds = {
        chain: await workflow({
          nodes: { a: fn('input.x'), b: fn('nodes.a + 1'), c: fn('nodes.b * 2') },
          edges: [
            { from: 'a', to: 'b' },
            { from: 'b', to: 'c' },
          ],
        }),
        diamond: await workflow({
          nodes: { a: fn('input.x'), big: fn('nodes.a'), triple: fn('nodes.a * 3'), join: fn('nodes.triple') },
          edges: [
            // x counts up from 0 for as long as the kills take, so only a condition no x meets always skips.
            { from: 'a', to: 'big', when: 'nodes.a < 0' },
            { from: 'a', to: 'triple' },
            { from: 'big', to: 'join' },
            { from: 'triple', to: 'join' },
          ],
        }),
        retry: await workflow({
          nodes: {
            call: {
              type: 'http_request',
              config: { method: 'POST', url: `${server.origin}/flaky`, body: {} },
              retry: { maxAttempts: 3, backoffMs: 50 },
            },
            shape: fn('nodes.call.body.ok'),
          },
          edges: [{ from: 'call', to: 'shape' }],
        }),
        delay: await workflow({
          nodes: { wait: { type: 'delay', config: { ms: 3_000 } }, after: fn('input.x') },
          edges: [{ from: 'wait', to: 'after' }],
        }),
        hitl: await workflow({
          nodes: { review: { type: 'hitl', config: { prompt: 'ok?' } }, after: fn('nodes.review.approved') },
          edges: [{ from: 'review', to: 'after' }],
        }),
      };
      const expected: Record<keyof typeof kinds, (x: number) => unknown> = {
        chain: (x) => ({ c: (x + 1) * 2 }),
        diamond: (x) => ({ join: x * 3 }),
        retry: () => ({ shape: true }),
        delay: (x) => ({ after: x }),
        hitl: () => ({ after: true }),
      };
      const attempts: Record<keyof typeof kinds, Record<string, number>> = {
        chain: { a: 1, b: 1, c: 1 },
        diamond: { a: 1, big: 0, triple: 1, join: 1 },
        retry: { call: 2, shape: 1 },
        delay: { wait: 1, after: 1 },
        hitl: { review: 1, after: 1 },
      };

      const runs: { id: string; kind: keyof typeof kinds; x: number }[] = [];
      let stopApproving = false;
      let approve = false;
      let stopStarting = false;
      // A human approving whatever waits, through whichever API is up; only once the kills are over, so the waiting
      // runs live through all of them.
      const approving = (async () => {
        while (!stopApproving) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          if (!approve) continue;
          const { rows } = await pool.query<{ run_id: string; node_id: string }>(
            "SELECT run_id, node_id FROM approvals WHERE status = 'pending' LIMIT 200",
          );
          for (const row of rows) {
            await call('POST', `/v1/runs/${row.run_id}/nodes/${row.node_id}/approval`, { approved: true });
          }
        }
      })();
      const starting = (async () => {
        const order = Object.keys(kinds) as (keyof typeof kinds)[];
        for (let i = 0; !stopStarting; i += PER_STEP) {
          const step = new Promise((resolve) => setTimeout(resolve, STEP_MS));
          await Promise.all(
            order.flatMap((kind) =>
              Array.from({ length: PER_STEP }, async (_, k) => {
                const x = i + k;
                const reply = await call(
                  'POST',
                  `/v1/workflows/${kinds[kind]}/runs`,
                  { input: { x } },
                  {
                    'idempotency-key': `${kind}-${x}`,
                  },
                );
                assert.equal(reply.status, 202, JSON.stringify(reply.body));
                runs.push({ id: (reply.body as { runId: string }).runId, kind, x });
              }),
            ),
          );
          await step;
        }
      })();

      ctx.defer(async () => {
        stopApproving = true;
        await approving.catch(() => undefined);
      });
      const count = async (sql: string) => (await pool.query<{ n: number }>(sql)).rows[0]?.n ?? 0;
      const accepted = 'SELECT count(*)::int AS n FROM runs';
      const atLeast = (n: number) =>
        eventually(async () => ((await count(accepted)) >= n ? true : undefined), `${n} runs`, 60_000);
      const inFlight: Record<string, number> = {};
      const killAndRestart = async (name: string, role: RoleProcess) => {
        inFlight[name] = await count('SELECT count(*)::int AS n FROM runs WHERE finished_at IS NULL');
        await role.kill();
        await role.restart();
      };
      await atLeast(100);
      await killAndRestart('api', api);
      await atLeast(200);
      // A third coordinator joins mid-load, then one of the first two is killed: two rebalances, one of them after a
      // member vanished without leaving.
      coordinators.push(await startRoleProcess(ctx, 'coordinator', env));
      await atLeast(300);
      await killAndRestart('coordinator', coordinators[0] as RoleProcess);
      await atLeast(400);
      await killAndRestart('worker', worker);
      await atLeast(500);
      await killAndRestart('projector', projector);
      await atLeast(600);
      await killAndRestart('relay', relay);
      stopStarting = true;
      await starting;
      approve = true;
      assert.ok(runs.length >= 500, `${runs.length} runs started`);
      assert.ok(
        Object.values(inFlight).every((n) => n > 0),
        `runs in flight at each kill: ${JSON.stringify(inFlight)}`,
      );

      await eventually(
        async () =>
          (await count('SELECT count(*)::int AS n FROM runs WHERE finished_at IS NULL')) === 0 ? true : undefined,
        'every run ended',
        120_000,
      );
      stopApproving = true;
      await approving;

      const { rows } = await pool.query<{
        id: string;
        status: string;
        output: unknown;
        nodes: Record<string, { status: string; attempts: number }>;
      }>('SELECT id, status, output, nodes FROM runs WHERE id = ANY($1::uuid[])', [runs.map((r) => r.id)]);
      assert.equal(rows.length, runs.length, 'one run per accepted start (idempotency keys held across API kills)');
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const run of runs) {
        const row = byId.get(run.id);
        assert.ok(row);
        assert.equal(row.status, 'completed', `${run.kind} ${run.id}: ${JSON.stringify(row)}`);
        assert.deepEqual(row.output, expected[run.kind](run.x), `${run.kind} ${run.id} output`);
        const got = Object.fromEntries(Object.entries(row.nodes).map(([id, n]) => [id, n.attempts]));
        assert.deepEqual(got, attempts[run.kind], `${run.kind} ${run.id} attempts`);
      }
      const completedTwice = await count(
        `SELECT count(*)::int AS n FROM (SELECT run_id, node_id FROM run_events WHERE kind = 'node.completed'
         GROUP BY run_id, node_id HAVING count(*) <> 1) twice`,
      );
      assert.equal(completedTwice, 0, 'no node completed twice');
      assert.deepEqual(
        await runEventAnomalies(
          pool,
          runs.map((r) => r.id),
        ),
        [],
      );
      const retried = runs.filter((r) => r.kind === 'retry');
      for (const run of retried) assert.equal(effects.get(run.id), 1, `run ${run.id}: its effect applied once`);
      for (const key of keysSeen) assert.match(key, /^[0-9a-f-]{36}:call:[12]$/, 'keys are run:node:attempt');
      assert.equal(answers.size, retried.length, 'one idempotency key per succeeded attempt');
      ctx.logger.warn({ inFlight, runs: runs.length }, 'chaos (mixed): runs in flight at each kill');
    },
  );
});
