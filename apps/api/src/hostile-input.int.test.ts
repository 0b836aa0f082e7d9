import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool, type Pool } from '#libs/db';
import { PG_POOL, ProblemError } from '#libs/platform';
import type { PatchOperation } from '#libs/workflows';
import { SAMPLE_DEFINITION, startRoles, type Reply, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from './api.role.js';
import { RunsRepository } from './runs/runs.repository.js';
import { PatchWriter } from './workflows/patch-writer.js';

const ctx = useTestContext('api-hostile-input');

type Problem = { type: string; status: number; detail: string; errors?: string[] };
const addNode = (id: string): { ops: PatchOperation[] } => ({
  ops: [{ op: 'add', path: `/nodes/${id}`, value: { type: 'function', config: { expression: '1' } } }],
});
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('hostile input at the API: one bad request fails alone and writes nothing (invariant 8)', () => {
  let api: TestApp;
  let pool: Pool;
  let workflowId: string;
  const counts = async () =>
    (
      await pool.query<{ workflows: number; patches: number; runs: number; outbox: number }>(
        `SELECT (SELECT count(*)::int FROM workflows) AS workflows, (SELECT count(*)::int FROM patches) AS patches,
                (SELECT count(*)::int FROM runs) AS runs, (SELECT count(*)::int FROM outbox) AS outbox`,
      )
    ).rows[0];
  const expectProblem = (reply: Reply, status: number, what: string) => {
    assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
    assert.match(String(reply.headers['content-type']), /^application\/problem\+json/, what);
    return reply.body as Problem;
  };

  before(async () => {
    api = await startRoles(ctx, [apiRole], { ...ctx.config, OUTBOX_EAGER_GRACE_MS: 0 });
    pool = createPool(ctx.databaseUrl, { name: 'hostile-input-test' });
    ctx.defer(() => pool.end());
    const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
      body: { name: 'target', definition: SAMPLE_DEFINITION },
    });
    assert.equal(created.status, 201);
    workflowId = created.body.id;
  });

  it('answers 400 to a deeply nested body instead of failing inside the handler', async () => {
    const before = await counts();
    const url = `/v1/workflows/${workflowId}/patches`;
    for (const depth of [100_000, 70]) {
      const patchBody = `{"ops":[{"op":"add","path":"/nodes/a/config/x","value":${deepArray(depth)}}]}`;
      const patchProblem = expectProblem(await api.request('POST', url, { rawBody: patchBody }), 400, `patch ${depth}`);
      assert.equal(patchProblem.type, 'urn:orchestrator:problem:malformed-request');
      assert.match(patchProblem.detail, /nest/);
      const runBody = `{"input":${deepArray(depth)}}`;
      expectProblem(await api.request('POST', `/v1/workflows/${workflowId}/runs`, { rawBody: runBody }), 400, 'run');
    }
    // Within the limit is fine.
    const shallow = `{"ops":[{"op":"add","path":"/nodes/z","value":{"type":"http_request","config":{"method":"POST","url":"https://example.org","body":${deepArray(20)}}}}]}`;
    assert.equal((await api.request('POST', url, { rawBody: shallow })).status, 202);
    assert.equal((await counts())?.patches, (before?.patches ?? 0) + 1);
  });

  it('answers 400 naming the field when a string or key holds U+0000 or a lone surrogate (jsonb cannot)', async () => {
    const before = await counts();
    const cases: { what: string; url: string; rawBody: string; field: string }[] = [
      {
        what: 'patch value',
        url: `/v1/workflows/${workflowId}/patches`,
        rawBody: JSON.stringify({ ops: [{ op: 'add', path: '/nodes/a/config/expression', value: 'a\u0000b' }] }),
        field: 'ops[0].value',
      },
      {
        what: 'run input',
        url: `/v1/workflows/${workflowId}/runs`,
        rawBody: JSON.stringify({ input: { list: ['ok', { text: '\u0000' }] } }),
        field: 'input.list[1].text',
      },
      {
        what: 'definition key',
        url: '/v1/workflows',
        rawBody: JSON.stringify({ name: 'x', definition: { nodes: { 'a\u0000': { type: 'delay', config: {} } } } }),
        field: 'definition.nodes["a\\u0000"]',
      },
      {
        what: 'workflow name',
        url: '/v1/workflows',
        rawBody: JSON.stringify({ name: 'bad\u0000name', definition: SAMPLE_DEFINITION }),
        field: 'name',
      },
      {
        what: 'lone surrogate',
        url: `/v1/workflows/${workflowId}/runs`,
        rawBody: '{"input":{"s":"\\ud800x"}}',
        field: 'input.s',
      },
    ];
    for (const c of cases) {
      const problem = expectProblem(await api.request('POST', c.url, { rawBody: c.rawBody }), 400, c.what);
      assert.equal(problem.type, 'urn:orchestrator:problem:malformed-request', c.what);
      assert.ok(
        problem.detail.includes(c.field) || problem.errors?.some((e) => e.startsWith(c.field)),
        `${c.what}: ${JSON.stringify(problem)}`,
      );
    }
    assert.deepEqual(await counts(), before);
  });

  it('answers 422 to a copy or move into its own source, before anything is stored', async () => {
    const before = await counts();
    const reply = await api.request('POST', `/v1/workflows/${workflowId}/patches`, {
      body: { ops: [{ op: 'copy', from: '/nodes/a/config', path: '/nodes/a/config/k1' }] },
    });
    const problem = expectProblem(reply, 422, 'copy into itself');
    assert.match(problem.errors?.join() ?? '', /ops\[0\]: cannot copy \/nodes\/a\/config into itself/);
    assert.deepEqual(await counts(), before);
  });

  it('fails only the bad request of a group commit: the others of its batch are written (edge checks bypassed)', async () => {
    const writer = api.app.get(PatchWriter, { strict: false });
    const before = await counts();
    const request = (ops: PatchOperation[], i: number) => ({
      workspaceId: '',
      workflowId,
      ops,
      idempotencyKey: `batch-${i}`,
      requestHash: `hash-${i}`,
    });
    const { rows } = await pool.query<{ workspace_id: string }>('SELECT workspace_id FROM workflows WHERE id = $1', [
      workflowId,
    ]);
    const workspaceId = rows[0]?.workspace_id as string;
    // The first submits each start a batch of their own; the bad one waits in the queue with the others.
    const bad = 30;
    const results = await Promise.allSettled(
      Array.from({ length: 80 }, (_, i) =>
        writer.submit({
          ...request(
            i === bad
              ? [{ op: 'add', path: '/nodes/a/config/expression', value: 'nul \u0000 here' }]
              : addNode(`g${i}`).ops,
            i,
          ),
          workspaceId,
        }),
      ),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    assert.deepEqual(failed, [bad]);
    const reason = (results[bad] as PromiseRejectedResult).reason as ProblemError;
    assert.ok(reason instanceof ProblemError);
    assert.equal(reason.code, 'malformed_request');
    assert.doesNotMatch(reason.detail, /unicode|escape|\\u0000|jsonb/i, 'no raw Postgres message');
    const after = await counts();
    assert.equal(after?.patches, (before?.patches ?? 0) + 79);
    assert.equal(after?.outbox, (before?.outbox ?? 0) + 79);
    const seqs = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.seq] : [])).sort((a, b) => a - b);
    assert.equal(new Set(seqs).size, 79);
    assert.equal((seqs.at(-1) as number) - (seqs[0] as number), 78, 'consecutive: the failed attempt burnt none');

    const runs = api.app.get(RunsRepository, { strict: false });
    const started = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        runs.start({
          workspaceId,
          workflowId,
          input: i === 20 ? { text: '\u0000' } : { x: i },
          tag: null,
          permission: 'admin',
          idempotencyKey: undefined,
          requestHash: `run-${i}`,
        }),
      ),
    );
    assert.deepEqual(
      started.flatMap((r, i) => (r.status === 'rejected' ? [i] : [])),
      [20],
    );
    assert.equal((await counts())?.runs, (before?.runs ?? 0) + 39);
  });
});

describe('bounded waiting: a full group-commit queue and a slow statement answer 503 instead of piling up', () => {
  let api: TestApp;
  let pool: Pool;
  let workflowId: string;

  before(async () => {
    api = await startRoles(ctx, [apiRole], {
      ...ctx.config,
      OUTBOX_EAGER_GRACE_MS: 0,
      GROUP_COMMIT_MAX_QUEUED: 5,
      DATABASE_STATEMENT_TIMEOUT_MS: 1_500,
    });
    pool = createPool(ctx.databaseUrl, { name: 'hostile-input-queue' });
    ctx.defer(() => pool.end());
    workflowId = (
      await api.request<{ id: string }>('POST', '/v1/workflows', { body: { name: 'q', definition: SAMPLE_DEFINITION } })
    ).body.id;
  });

  it('refuses patches past the queue bound with 503 and Retry-After, and writes those it accepted', async () => {
    // Hold the workflow's sequence row so that the batches in flight wait and the queue fills up.
    const holder = await pool.connect();
    let settled = 0;
    const replies = await (async () => {
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM workflow_sequences WHERE workflow_id = $1 FOR UPDATE', [workflowId]);
        const pending = Array.from({ length: 20 }, (_, i) =>
          api.request('POST', `/v1/workflows/${workflowId}/patches`, { body: addNode(`q${i}`) }).finally(() => {
            settled++;
          }),
        );
        // 3 batches in flight and 5 waiting: the other 12 are answered at once.
        const deadline = Date.now() + 5_000;
        while (settled < 12 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        assert.equal(settled, 12, 'the requests past the bound were answered without waiting');
        await holder.query('COMMIT');
        return await Promise.all(pending);
      } finally {
        // A failed assertion must not leave the lock behind (a no-op after COMMIT).
        await holder.query('ROLLBACK').catch(() => undefined);
        holder.release();
      }
    })();
    const refused = replies.filter((r) => r.status === 503);
    const accepted = replies.filter((r) => r.status === 202);
    assert.equal(refused.length, 12);
    assert.equal(accepted.length, 8);
    for (const reply of refused) {
      assert.equal(reply.headers['retry-after'], '1');
      assert.equal((reply.body as Problem).type, 'urn:orchestrator:problem:overloaded');
    }
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM patches WHERE workflow_id = $1', [
      workflowId,
    ]);
    assert.equal(rows[0]?.n, 8);
  });

  it('cancels a statement that runs past DATABASE_STATEMENT_TIMEOUT_MS', async () => {
    const appPool = api.app.get<Pool>(PG_POOL);
    const started = Date.now();
    await assert.rejects(appPool.query('SELECT pg_sleep(5)'), (error: { code?: string }) => error.code === '57014');
    assert.ok(Date.now() - started < 4_000);
  });
});
