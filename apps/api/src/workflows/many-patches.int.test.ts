import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool, type Pool } from '#libs/db';
import { SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from '../api.role.js';

const ctx = useTestContext('many-patches');

const PATCHES = 5000;
const VERSIONS = 50;

describe('reads of a workflow with thousands of patches', () => {
  let api: TestApp;
  let pool: Pool;
  let id: string;

  before(async () => {
    // The API alone, without topics: its outbox rows stay where it wrote them (no eager publishing) for the test to see.
    api = await startRoles(ctx, [apiRole], { ...ctx.config, OUTBOX_EAGER_GRACE_MS: 0 });
    pool = createPool(ctx.databaseUrl, { name: 'many-patches' });
    ctx.defer(() => pool.end());
    id = (
      await api.request<{ id: string }>('POST', '/v1/workflows', {
        body: { name: 'big', definition: SAMPLE_DEFINITION },
      })
    ).body.id;
    // The state 5,000 decided patches folded into 50 versions leave behind, written directly for speed.
    await pool.query(
      `INSERT INTO patches (id, workflow_id, seq, ops, status, version, decided_at)
       SELECT gen_random_uuid(), $1, s, '[{"op":"replace","path":"/nodes/a/config/expression","value":"1"}]', 'applied', 1 + ceil(s / 100.0)::int, now()
         FROM generate_series(1, $2::int) AS s`,
      [id, PATCHES],
    );
    await pool.query(
      `INSERT INTO workflow_versions (workflow_id, version, definition, applied_through_seq, patch_count)
       SELECT $1, v, jsonb_set($2::jsonb, '{nodes,a,config,expression}', to_jsonb(v::text)), (v - 1) * 100, 100
         FROM generate_series(2, $3::int + 1) AS v`,
      [id, JSON.stringify(SAMPLE_DEFINITION), VERSIONS],
    );
    await pool.query('UPDATE workflows SET latest_version = $2, applied_through_seq = $3 WHERE id = $1', [
      id,
      VERSIONS + 1,
      PATCHES,
    ]);
    await pool.query('UPDATE workflow_sequences SET next_seq = $2 WHERE workflow_id = $1', [id, PATCHES + 1]);
  });

  it('serve the latest version from its snapshot, without replaying patches', async () => {
    const latest = await api.request<{
      version: number;
      appliedThroughSeq: number;
      definition: { nodes: { a: { config: { expression: string } } } };
    }>('GET', `/v1/workflows/${id}`);
    assert.equal(latest.body.version, VERSIONS + 1);
    assert.equal(latest.body.appliedThroughSeq, PATCHES);
    assert.equal(latest.body.definition.nodes.a.config.expression, String(VERSIONS + 1));
    const middle = await api.request<{ version: number }>('GET', `/v1/workflows/${id}/versions/25`);
    assert.equal(middle.body.version, 25);
  });

  it('walk the whole history in seq order through keyset pages', async () => {
    let url: string | null = `/v1/workflows/${id}/patches?limit=1000`;
    const seqs: number[] = [];
    let pages = 0;
    while (url) {
      const page: { status: number; body: { patches: { seq: number; status: string }[]; next: string | null } } =
        await api.request('GET', url);
      assert.equal(page.status, 200);
      seqs.push(...page.body.patches.map((p) => p.seq));
      url = page.body.next;
      pages++;
    }
    assert.equal(pages, 6, 'five full pages and an empty last one');
    assert.deepEqual(
      seqs,
      Array.from({ length: PATCHES }, (_, i) => i + 1),
    );
  });

  it('take new patches after the existing ones', async () => {
    const reply = await api.request<{ seq: number }>('POST', `/v1/workflows/${id}/patches`, {
      body: { ops: [{ op: 'replace', path: '/nodes/a/config/expression', value: '2' }] },
    });
    assert.equal(reply.status, 202);
    assert.equal(reply.body.seq, PATCHES + 1);
  });
});
