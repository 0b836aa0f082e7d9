import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Registry } from 'prom-client';
import { createPool, migrate, MIGRATIONS_DIR, type Pool } from '#libs/db';
import { METRICS_REGISTRY } from '#libs/platform';
import { eventually, SAMPLE_DEFINITION, startRoles, type Reply, type TestApp } from '#test/support/app.js';
import { startPrivateReplicaPair, type PrivateReplicaPair } from '#test/support/private/private-postgres-replica.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from './api.role.js';

const ctx = useTestContext('read-replica');

type RunPage = { runs: { id: string }[] };

/**
 * The API against a primary and a streaming replica of its own (not the machine's cluster). Pausing the replica's
 * replay makes it visibly behind: what a read sees then says which server answered it.
 */
describe('read endpoints on a streaming replica (DATABASE_READ_URL)', () => {
  let pair: PrivateReplicaPair;
  let api: TestApp;
  let primaryOnly: TestApp;
  let primary: Pool;
  let replica: Pool;
  let workflowId: string;

  const gauge = async (app: TestApp, name: string) =>
    (await app.app.get<Registry>(METRICS_REGISTRY).getSingleMetric(name)?.get())?.values[0]?.value;
  const token = (reply: Reply) => reply.headers['consistency-token'] as string | undefined;
  const runIds = (reply: Reply<RunPage>) => reply.body.runs.map((r) => r.id);
  const startRun = async (app: TestApp) => {
    const started = await app.request<{ runId: string }>('POST', `/v1/workflows/${workflowId}/runs`, {
      body: { input: { x: 1 } },
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    return started;
  };

  before(async () => {
    pair = await startPrivateReplicaPair((cleanup) => ctx.defer(cleanup));
    const databaseUrl = `${pair.primary}/orchestrator`;
    await migrate(databaseUrl, MIGRATIONS_DIR);
    await pair.caughtUp();
    const config = { ...ctx.config, DATABASE_URL: databaseUrl, OUTBOX_EAGER_GRACE_MS: 0 };
    // Runs stay pending (no coordinator): these tests are about where a read goes, not about execution.
    api = await startRoles(ctx, [apiRole], { ...config, DATABASE_READ_URL: `${pair.replica}/orchestrator` });
    primaryOnly = await startRoles(ctx, [apiRole], config);
    primary = createPool(databaseUrl, { name: 'read-replica-test-primary', max: 2 });
    replica = createPool(`${pair.replica}/orchestrator`, { name: 'read-replica-test-replica', max: 2 });
    ctx.defer(() => Promise.all([primary.end(), replica.end()]));
    const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
      body: { name: 'replicated', definition: SAMPLE_DEFINITION },
    });
    assert.equal(created.status, 201);
    assert.match(token(created) ?? '', /^[0-9A-F]+\/[0-9A-F]+$/, 'a write answers a consistency token');
    workflowId = created.body.id;
    await pair.caughtUp();
  });

  it('reads without a token come from the replica; a token of a newer write sends the read to the primary', async () => {
    const before = await startRun(api);
    await pair.caughtUp();
    await pair.pauseReplay();
    try {
      const after = await startRun(api);
      const { rowCount } = await replica.query('SELECT 1 FROM runs WHERE id = $1', [after.body.runId]);
      assert.equal(rowCount, 0, 'the replica has not replayed the second run');

      const untokened = await api.request<RunPage>('GET', `/v1/workflows/${workflowId}/runs`);
      assert.equal(untokened.status, 200);
      assert.ok(runIds(untokened).includes(before.body.runId));
      assert.ok(!runIds(untokened).includes(after.body.runId), 'read on the replica: the newest run is not there');

      const tokened = await api.request<RunPage>('GET', `/v1/workflows/${workflowId}/runs`, {
        headers: { 'consistency-token': token(after) as string },
      });
      assert.ok(runIds(tokened).includes(after.body.runId), 'the token sent the read to the primary');

      // The older write's token: the replica has replayed it, so it answers (and does not see the newer run).
      const older = await api.request<RunPage>('GET', `/v1/runs?workflowId=${workflowId}`, {
        headers: { 'consistency-token': token(before) as string },
      });
      assert.ok(runIds(older).includes(before.body.runId));
      assert.ok(!runIds(older).includes(after.body.runId), 'a replica that has replayed the token serves the read');
    } finally {
      await pair.resumeReplay();
    }
    await eventually(async () => {
      const reply = await api.request<RunPage>('GET', `/v1/workflows/${workflowId}/runs`);
      return reply.body.runs.length === 2 ? true : undefined;
    }, 'the replica to replay the second run');
  });

  it('a run read right after its 202 is found, with or without its token, while the replica is behind', async () => {
    await pair.pauseReplay();
    try {
      for (let i = 0; i < 5; i++) {
        const started = await startRun(api);
        const { runId } = started.body;
        const tokens: Record<string, string>[] = [{}, { 'consistency-token': token(started) as string }];
        for (const headers of tokens) {
          const run = await api.request<{ id: string; status: string }>('GET', `/v1/runs/${runId}`, { headers });
          assert.equal(run.status, 200, `run ${runId} read ${JSON.stringify(headers)}: ${JSON.stringify(run.body)}`);
          assert.equal(run.body.id, runId);
          const timeline = await api.request('GET', `/v1/runs/${runId}/timeline`, { headers });
          assert.equal(timeline.status, 200);
        }
        const { rowCount } = await replica.query('SELECT 1 FROM runs WHERE id = $1', [runId]);
        assert.equal(rowCount, 0, 'the replica does not have it: the primary answered');
      }
      // A patch and the workflow it changes, the same way.
      const patched = await api.request<{ patchId: string }>('POST', `/v1/workflows/${workflowId}/patches`, {
        body: { ops: [{ op: 'replace', path: '/nodes/a/config/expression', value: '$.input.x * 2' }] },
      });
      assert.equal(patched.status, 202);
      assert.ok(token(patched));
      const patch = await api.request('GET', `/v1/workflows/${workflowId}/patches/${patched.body.patchId}`);
      assert.equal(patch.status, 200);
      // Something that is not anywhere is still a 404.
      const missing = await api.request('GET', '/v1/runs/00000000-0000-4000-8000-000000000000');
      assert.equal(missing.status, 404);
    } finally {
      await pair.resumeReplay();
    }
  });

  it('reports the replica lag: above 0 while replay is paused behind writes, back to 0 once it resumes', async () => {
    await pair.caughtUp();
    await pair.pauseReplay();
    try {
      await startRun(api);
      const behind = await eventually(async () => {
        const [seconds, bytes] = [await gauge(api, 'pg_replica_lag_seconds'), await gauge(api, 'pg_replica_lag_bytes')];
        return seconds !== undefined && seconds > 0 && bytes !== undefined && bytes > 0
          ? { seconds, bytes }
          : undefined;
      }, 'the lag to show');
      assert.ok(behind.bytes > 0);
    } finally {
      await pair.resumeReplay();
    }
    await eventually(async () => {
      const seconds = await gauge(api, 'pg_replica_lag_seconds');
      const bytes = await gauge(api, 'pg_replica_lag_bytes');
      return seconds === 0 && bytes !== undefined && bytes < 1024 * 1024 ? true : undefined;
    }, 'the lag to return to 0');
  });

  it('without DATABASE_READ_URL every read goes to the primary and writes answer no token', async () => {
    await pair.pauseReplay();
    try {
      const started = await startRun(primaryOnly);
      assert.equal(token(started), undefined);
      const list = await primaryOnly.request<RunPage>('GET', `/v1/workflows/${workflowId}/runs`);
      assert.ok(runIds(list).includes(started.body.runId), 'the newest run, which the paused replica lacks');
      const withToken = await primaryOnly.request('GET', `/v1/runs/${started.body.runId}`, {
        headers: { 'consistency-token': '0/1' },
      });
      assert.equal(withToken.status, 200, 'a token is accepted and changes nothing');
      assert.equal(await gauge(primaryOnly, 'pg_replica_lag_seconds'), undefined, 'no lag series');
    } finally {
      await pair.resumeReplay();
    }
  });

  it('refuses a malformed token (400) instead of guessing where to read', async () => {
    const reply = await api.request<{ errors?: unknown }>('GET', `/v1/workflows/${workflowId}`, {
      headers: { 'consistency-token': 'latest please' },
    });
    assert.equal(reply.status, 400, JSON.stringify(reply.body));
  });

  // Last: the replica does not come back.
  it('reads go to the primary while the replica is down', async () => {
    await pair.stopReplica();
    const started = await startRun(api);
    const list = await api.request<RunPage>('GET', `/v1/workflows/${workflowId}/runs`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.ok(runIds(list).includes(started.body.runId));
    const run = await api.request('GET', `/v1/runs/${started.body.runId}`);
    assert.equal(run.status, 200);
  });
});
