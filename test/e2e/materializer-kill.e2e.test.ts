import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { createPool } from '#libs/db';
import { createTopics, eventually, startRoles } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { startRoleProcess } from '#test/support/role-process.js';

const ctx = useTestContext('materializer-kill');

const WORKFLOWS = 20;
const PATCHES_PER_WORKFLOW = 30;

describe('a materializer killed with SIGKILL in the middle of a load (invariants 2 and 4)', () => {
  it('loses no accepted patch and applies none twice once it is restarted', async () => {
    await createTopics(ctx);
    const api = await startRoles(ctx, [apiRole, outboxRelayRole]);
    const materializer = await startRoleProcess(ctx, 'materializer');

    // Each workflow has a counter node; patch k asserts the counter is k-1 and sets it to k. Applying a patch twice
    // or out of order makes a later `test` op fail, which would show up as a rejection and a wrong final counter.
    const definition = { nodes: { counter: { type: 'function', config: { expression: '0' } } }, edges: [] };
    const ids: string[] = [];
    for (let w = 0; w < WORKFLOWS; w++) {
      ids.push(
        (await api.request<{ id: string }>('POST', '/v1/workflows', { body: { name: `k${w}`, definition } })).body.id,
      );
    }
    let accepted = 0;
    let killed = false;
    await Promise.all(
      ids.map(async (id) => {
        for (let k = 1; k <= PATCHES_PER_WORKFLOW; k++) {
          const reply = await api.request('POST', `/v1/workflows/${id}/patches`, {
            body: {
              ops: [
                { op: 'test', path: '/nodes/counter/config/expression', value: String(k - 1) },
                { op: 'replace', path: '/nodes/counter/config/expression', value: String(k) },
              ],
            },
          });
          assert.equal(reply.status, 202);
          accepted++;
          if (!killed && accepted >= (WORKFLOWS * PATCHES_PER_WORKFLOW) / 3) {
            killed = true;
            materializer.current().child.kill('SIGKILL');
          }
        }
      }),
    );
    assert.equal(await materializer.current().exited(), null, 'killed by the signal');
    await materializer.restart();

    const pool = createPool(ctx.databaseUrl, { name: 'kill-check' });
    ctx.defer(() => pool.end());
    await eventually(
      async () => {
        const { rows } = await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM patches WHERE status = 'pending'",
        );
        return rows[0]?.n === 0 ? true : undefined;
      },
      'every patch decided',
      60_000,
    );
    const statuses = await pool.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM patches GROUP BY status',
    );
    assert.deepEqual(statuses.rows, [{ status: 'applied', n: WORKFLOWS * PATCHES_PER_WORKFLOW }]);
    for (const id of ids) {
      const head = await pool.query<{ expression: string; applied: string; counted: number }>(
        `SELECT v.definition #>> '{nodes,counter,config,expression}' AS expression, w.applied_through_seq AS applied,
                (SELECT sum(patch_count)::int FROM workflow_versions WHERE workflow_id = w.id) AS counted
           FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.latest_version WHERE w.id = $1`,
        [id],
      );
      assert.deepEqual(head.rows[0], {
        expression: String(PATCHES_PER_WORKFLOW),
        applied: String(PATCHES_PER_WORKFLOW),
        counted: PATCHES_PER_WORKFLOW,
      });
    }
    assert.equal(await materializer.current().stop('SIGTERM'), 0);
  });
});
