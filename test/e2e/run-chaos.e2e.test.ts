import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { startTestHttpServer } from '#apps/worker/src/http/test-http-server.js';
import { createPool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles } from '#test/support/app.js';
import { startRoleProcess } from '#test/support/role-process.js';
import { createWorkflow, startRun } from '#test/support/runs.js';

const ctx = useTestContext('run-chaos');
const RUNS = 500;

describe('runs in flight while the coordinator, a worker, the projector and the relay are SIGKILLed in turn (invariants 3 and 4)', () => {
  it('ends every run, applies no node twice, and sends each attempt its own idempotency key', async () => {
    await createTopics(ctx);
    // The "external system": applies an effect once per Idempotency-Key and replays its answer for a repeated key,
    // which is what the key is for. It counts effects per run, so a node applied twice shows up as 2.
    const effects = new Map<string, number>();
    const answers = new Map<string, string>();
    const keysSeen = new Map<string, number>();
    const server = await startTestHttpServer((request, response) => {
      const key = String(request.headers['idempotency-key']);
      keysSeen.set(key, (keysSeen.get(key) ?? 0) + 1);
      let answer = answers.get(key);
      if (answer === undefined) {
        const runId = key.split(':')[0] as string;
        effects.set(runId, (effects.get(runId) ?? 0) + 1);
        answer = JSON.stringify({ applied: effects.get(runId) });
        answers.set(key, answer);
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    });
    ctx.defer(() => server.close());

    const env = { SSRF_ALLOWED_HOSTS: '127.0.0.1' };
    const api = await startRoles(ctx, [apiRole], { ...ctx.config, SSRF_ALLOWED_HOSTS: ['127.0.0.1'] });
    const coordinator = await startRoleProcess(ctx, 'coordinator', env);
    const worker = await startRoleProcess(ctx, 'worker', env);
    const projector = await startRoleProcess(ctx, 'run-projector', env);
    const relay = await startRoleProcess(ctx, 'outbox-relay', env);
    const id = await createWorkflow(api, {
      nodes: {
        wait: { type: 'delay', config: { ms: 200 } },
        call: { type: 'http_request', config: { method: 'POST', url: `${server.origin}/effect`, body: { n: 1 } } },
        shape: { type: 'function', config: { expression: 'nodes.call.body.applied' } },
      },
      edges: [
        { from: 'wait', to: 'call' },
        { from: 'call', to: 'shape' },
      ],
    });

    const runIds: string[] = [];
    const starting = (async () => {
      for (let i = 0; i < RUNS; i += 25) {
        runIds.push(...(await Promise.all(Array.from({ length: 25 }, () => startRun(api, id)))));
      }
    })();
    const pool = createPool(ctx.databaseUrl, { name: 'chaos-check' });
    ctx.defer(() => pool.end());
    const count = async (sql: string) => (await pool.query<{ n: number }>(sql)).rows[0]?.n ?? 0;
    const unfinished = 'SELECT count(*)::int AS n FROM runs WHERE finished_at IS NULL';
    // Each kill waits for the stage it hits to be busy: runs accepted, http tasks dispatched, runs finishing.
    // Runs take little more than their 200 ms delay, so every kill lands while runs are still being started.
    const stages: [typeof coordinator, string, number][] = [
      [relay, 'SELECT count(*)::int AS n FROM runs', 50],
      [coordinator, 'SELECT count(*)::int AS n FROM runs', 150],
      [worker, "SELECT count(*)::int AS n FROM run_events WHERE kind = 'node.dispatched' AND node_id = 'call'", 200],
      [projector, 'SELECT count(*)::int AS n FROM runs', 350],
    ];
    const inFlightAtKill: number[] = [];
    for (const [victim, progress, atLeast] of stages) {
      await eventually(async () => ((await count(progress)) >= atLeast ? true : undefined), progress, 60_000);
      inFlightAtKill.push(await count(unfinished));
      await victim.kill();
      await victim.restart();
    }
    await starting;
    assert.equal(runIds.length, RUNS);
    assert.ok(
      inFlightAtKill.every((n) => n > 0),
      `runs in flight at each kill: ${inFlightAtKill.join(', ')}`,
    );
    await eventually(
      async () => {
        const { rows } = await pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM runs WHERE finished_at IS NULL',
        );
        return rows[0]?.n === 0 ? true : undefined;
      },
      'every run finished',
      120_000,
    );
    const statuses = await pool.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM runs GROUP BY status',
    );
    assert.deepEqual(statuses.rows, [{ status: 'completed', n: RUNS }]);

    // Each node ran one attempt, completed once, and its effect on the outside happened once.
    const attempts = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM runs r, jsonb_each(r.nodes) AS node(id, state)
        WHERE (state ->> 'attempts')::int <> 1 OR state ->> 'status' <> 'succeeded'`,
    );
    assert.equal(attempts.rows[0]?.n, 0, 'every node: one attempt, succeeded');
    const completions = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT run_id, node_id FROM run_events WHERE kind = 'node.completed'
         GROUP BY run_id, node_id HAVING count(*) <> 1) twice`,
    );
    assert.equal(completions.rows[0]?.n, 0, 'no node completed twice');
    const gaps = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT run_id FROM run_events GROUP BY run_id HAVING count(*) <> max(seq)) g',
    );
    assert.equal(gaps.rows[0]?.n, 0, 'run events numbered without gaps or duplicates');
    const outputs = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM runs WHERE output <> '{"shape": 1}'::jsonb`,
    );
    assert.equal(outputs.rows[0]?.n, 0, 'every run saw its external effect applied exactly once');
    for (const runId of runIds) {
      assert.equal(effects.get(runId), 1, `run ${runId}: effect applied ${effects.get(runId) ?? 0} times`);
    }
    for (const key of keysSeen.keys()) assert.match(key, /^[0-9a-f-]{36}:call:1$/, 'keys are run:node:attempt');
    assert.equal(answers.size, RUNS, 'one idempotency key per accepted attempt');
    ctx.logger.warn(
      { inFlightAtKill, repeatedKeys: [...keysSeen.values()].filter((n) => n > 1).length },
      'chaos: runs in flight at each kill, and requests repeated with the same key',
    );
  });
});
