import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ApiKeysRepository } from '#libs/auth';
import { createPool } from '#libs/db';
import { SAMPLE_DEFINITION, startRoles, type Reply, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from './api.role.js';

const ctx = useTestContext('api-lists');

describe('list endpoints: workflows and runs, newest first, by cursor, in the caller’s workspace', () => {
  let api: TestApp;
  let foreignKey: string;
  const workflows: string[] = [];
  const runs: { runId: string; workflowId: string; tag: string }[] = [];

  /** Follows `next` links from `path` to the end; every item of every page, in order. */
  async function walk<T>(path: string, key: 'workflows' | 'runs'): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let pages = 0;
    for (let next: string | null = path; next;) {
      const reply: Reply<Record<string, unknown> & { next: string | null }> = await api.request('GET', next);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      items.push(...(reply.body[key] as T[]));
      next = reply.body.next;
      pages++;
    }
    return { items, pages };
  }

  before(async () => {
    // The API alone: runs stay pending (no coordinator), which is all a list needs.
    api = await startRoles(ctx, [apiRole], { ...ctx.config, OUTBOX_EAGER_GRACE_MS: 0 });
    for (const name of ['alpha one', 'beta_two', 'gamma three', 'beta%four']) {
      const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
        body: { name, definition: SAMPLE_DEFINITION },
      });
      assert.equal(created.status, 201);
      workflows.push(created.body.id);
    }
    for (let i = 0; i < 7; i++) {
      const workflowId = workflows[i % 2] as string;
      const tag = i % 3 === 0 ? 'nightly' : 'manual';
      const started = await api.request<{ runId: string }>('POST', `/v1/workflows/${workflowId}/runs`, {
        body: { input: { i }, tag },
      });
      assert.equal(started.status, 202);
      runs.push({ runId: started.body.runId, workflowId, tag });
    }
    const pool = createPool(ctx.databaseUrl, { name: 'lists-test' });
    ctx.defer(() => pool.end());
    const ws = await pool.query<{ id: string }>("INSERT INTO workspaces (name) VALUES ('other') RETURNING id");
    foreignKey = (await new ApiKeysRepository(pool).create((ws.rows[0] as { id: string }).id, 'admin')).key;
  });

  it('lists workflows newest first across pages, with no repeat and no gap', async () => {
    const { items, pages } = await walk<{ id: string; version: number }>('/v1/workflows?limit=1', 'workflows');
    assert.equal(pages, 5, 'four full pages of one, then an empty last page');
    assert.deepEqual(
      items.map((w) => w.id),
      [...workflows].reverse(),
    );
    assert.ok(items.every((w) => w.version === 1));
  });

  it('searches names literally and in any case (% and _ are not wildcards)', async () => {
    const search = async (q: string) =>
      (
        await api.request<{ workflows: { name: string }[] }>('GET', `/v1/workflows?q=${encodeURIComponent(q)}`)
      ).body.workflows.map((w) => w.name);
    assert.deepEqual(await search('BETA'), ['beta%four', 'beta_two']);
    assert.deepEqual(await search('_'), ['beta_two']);
    assert.deepEqual(await search('%'), ['beta%four']);
    assert.deepEqual(await search('nothing like it'), []);
  });

  it('lists runs newest first across pages, filtered by workflow, tag, status and time', async () => {
    const all = await walk<{ id: string; status: string; tag: string }>('/v1/runs?limit=3', 'runs');
    assert.deepEqual(
      all.items.map((r) => r.id),
      runs.map((r) => r.runId).reverse(),
    );
    assert.equal(all.pages, 3);
    const ofFirst = await walk<{ id: string }>(`/v1/workflows/${workflows[0]}/runs?limit=2`, 'runs');
    assert.deepEqual(
      ofFirst.items.map((r) => r.id),
      runs
        .filter((r) => r.workflowId === workflows[0])
        .map((r) => r.runId)
        .reverse(),
    );
    const byQuery = await walk<{ id: string }>(`/v1/runs?workflowId=${workflows[1]}&tag=nightly`, 'runs');
    assert.deepEqual(
      byQuery.items.map((r) => r.id),
      runs
        .filter((r) => r.workflowId === workflows[1] && r.tag === 'nightly')
        .map((r) => r.runId)
        .reverse(),
    );
    assert.equal((await walk('/v1/runs?status=pending', 'runs')).items.length, runs.length);
    assert.equal((await walk('/v1/runs?status=completed', 'runs')).items.length, 0);
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.equal((await walk(`/v1/runs?since=${future}`, 'runs')).items.length, 0);
    assert.equal((await walk('/v1/runs?since=2020-01-01T00:00:00Z', 'runs')).items.length, runs.length);
  });

  it('shows another workspace nothing: empty lists, 404 for a workflow’s runs', async () => {
    const options = { key: foreignKey };
    const foreignWorkflows = await api.request<{ workflows: unknown[] }>('GET', '/v1/workflows', options);
    assert.deepEqual(foreignWorkflows.body.workflows, []);
    const foreignRuns = await api.request<{ runs: unknown[] }>('GET', '/v1/runs', options);
    assert.deepEqual(foreignRuns.body.runs, []);
    assert.equal((await api.request('GET', `/v1/workflows/${workflows[0]}/runs`, options)).status, 404);
  });

  it('answers 400 problem+json naming the parameter for a bad filter, limit or cursor', async () => {
    for (const [path, name] of [
      ['/v1/runs?status=done', 'status'],
      ['/v1/runs?limit=0', 'limit'],
      ['/v1/runs?limit=abc', 'limit'],
      ['/v1/runs?since=yesterday', 'since'],
      ['/v1/runs?workflowId=nope', 'workflowId'],
      ['/v1/runs?tag=has%20space', 'tag'],
      ['/v1/runs?after=bm90LWEtY3Vyc29y', 'after'],
      ['/v1/workflows?after=%7B', 'after'],
    ] as const) {
      const reply = await api.request<{ type: string; detail: string }>('GET', path);
      assert.equal(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.type, 'urn:orchestrator:problem:malformed-request', path);
      assert.match(reply.body.detail, new RegExp(name), path);
    }
    assert.equal((await api.request('GET', '/v1/workflows/not-a-uuid/runs')).status, 404);
  });
});
