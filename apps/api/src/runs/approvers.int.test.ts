import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { ApiKeysRepository } from '#libs/auth';
import { createPool, type Pool } from '#libs/db';
import { startRoles, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from '../api.role.js';

const ctx = useTestContext('api-approvers');

/**
 * The API alone, with runs put in the read model by hand as the run projector would write them: a run waiting on its
 * hitl node `review`, whose approvers are the label "ann" and one key by id.
 */
describe('hitl approvers are enforced at approve and reject', () => {
  let api: TestApp;
  let pool: Pool;
  let workflowId: string;
  let workspaceId: string;
  const keys: Record<'ann' | 'byId' | 'bob' | 'anyone', string> = { ann: '', byId: '', bob: '', anyone: '' };

  /** A run of version 1 waiting for the approval of `review`. */
  async function waitingRun(): Promise<string> {
    const runId = randomUUID();
    await pool.query(
      `INSERT INTO runs (id, workspace_id, workflow_id, workflow_version, status, input) VALUES ($1, $2, $3, 1, 'waiting', '{}')`,
      [runId, workspaceId, workflowId],
    );
    await pool.query(
      `INSERT INTO approvals (run_id, node_id, attempt, workspace_id, prompt) VALUES ($1, 'review', 1, $2, 'Ship it?')`,
      [runId, workspaceId],
    );
    return runId;
  }

  const decide = (runId: string, key: string, approved: boolean) =>
    api.request<{ type: string; detail: string }>('POST', `/v1/runs/${runId}/nodes/review/approval`, {
      key,
      body: { approved },
    });

  before(async () => {
    api = await startRoles(ctx, [apiRole], { ...ctx.config, OUTBOX_EAGER_GRACE_MS: 0 });
    pool = createPool(ctx.databaseUrl, { name: 'approvers-test' });
    ctx.defer(() => pool.end());
    workspaceId = (await pool.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!.id;
    const repo = api.app.get(ApiKeysRepository);
    const byId = await repo.create(workspaceId, 'write');
    keys.byId = byId.key;
    keys.ann = (await repo.create(workspaceId, 'write', 'ann')).key;
    keys.bob = (await repo.create(workspaceId, 'write', 'bob')).key;
    keys.anyone = (await repo.create(workspaceId, 'admin')).key;
    const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
      body: {
        name: 'approvals',
        definition: {
          nodes: { review: { type: 'hitl', config: { prompt: 'Ship it?', approvers: ['ann', byId.id] } } },
          edges: [],
        },
      },
    });
    assert.equal(created.status, 201);
    workflowId = created.body.id;
  });

  it('refuses other keys with 403 problem+json, even admin ones, for approve and reject alike', async () => {
    const runId = await waitingRun();
    for (const [key, approved] of [
      [keys.bob, true],
      [keys.bob, false],
      [keys.anyone, true],
    ] as const) {
      const refused = await decide(runId, key, approved);
      assert.equal(refused.status, 403);
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
      assert.match(refused.body.detail, /only by its approvers/);
    }
    const { rows } = await pool.query<{ status: string }>('SELECT status FROM approvals WHERE run_id = $1', [runId]);
    assert.equal(rows[0]?.status, 'pending', 'a refused decision changes nothing');
  });

  it('lets an approver named by label decide, and one named by key id', async () => {
    assert.equal((await decide(await waitingRun(), keys.ann, true)).status, 202);
    assert.equal((await decide(await waitingRun(), keys.byId, false)).status, 202);
  });

  it('leaves a node without approvers to any write key', async () => {
    const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
      body: { name: 'open', definition: { nodes: { review: { type: 'hitl', config: { prompt: 'ok?' } } }, edges: [] } },
    });
    workflowId = created.body.id;
    assert.equal((await decide(await waitingRun(), keys.bob, true)).status, 202);
  });
});
