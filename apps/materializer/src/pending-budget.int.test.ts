import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createPool, inTransaction, type Pool } from '#libs/db';
import { createSchemaRegistry, EventCodec, readSchemaFiles, TopicNames } from '#libs/events';
import type { EventBatch } from '#libs/messaging';
import { useTestContext } from '#test/harness/test-context.js';
import { SAMPLE_DEFINITION } from '#test/support/app.js';
import { lockHeads, readPending } from './materialize.sql.js';
import { MaterializerService } from './materializer.service.js';

const ctx = useTestContext('materializer-pending-budget');
const PATCHES = 20;
/** Each patch adds a node with about 10 KB of expression text. */
const bigPatch = (i: number) => [
  { op: 'add', path: `/nodes/n${i}`, value: { type: 'function', config: { expression: `"${'x'.repeat(10_000)}"` } } },
];

describe('the materializer reads pending patches by a byte budget', () => {
  let pool: Pool;
  let workflowId: string;
  let workspaceId: string;

  before(async () => {
    pool = createPool(ctx.databaseUrl, { name: 'pending-budget' });
    ctx.defer(() => pool.end());
    workspaceId = (await pool.query<{ id: string }>(`INSERT INTO workspaces (name) VALUES ('b') RETURNING id`)).rows[0]!
      .id;
    workflowId = (
      await pool.query<{ id: string }>(`INSERT INTO workflows (workspace_id, name) VALUES ($1, 'w') RETURNING id`, [
        workspaceId,
      ])
    ).rows[0]!.id;
    await pool.query(
      `INSERT INTO workflow_versions (workflow_id, version, definition, applied_through_seq) VALUES ($1, 1, $2, 0)`,
      [workflowId, SAMPLE_DEFINITION],
    );
    for (let seq = 1; seq <= PATCHES; seq++) {
      await pool.query(`INSERT INTO patches (id, workflow_id, seq, ops) VALUES ($1, $2, $3, $4)`, [
        randomUUID(),
        workflowId,
        seq,
        JSON.stringify(bigPatch(seq)),
      ]);
    }
  });

  it('reads the oldest pending patches up to the budget, and says more are pending', async () => {
    const read = await inTransaction(pool, async (client) =>
      readPending(client, await lockHeads(client, [workflowId]), 35_000),
    );
    assert.deepEqual(
      read.patches.map((p) => p.seq),
      [1, 2, 3, 4],
      'a prefix: the patch that crosses the budget is the last one read',
    );
    assert.equal(read.complete, false);
  });

  it('decides every pending patch, in order, in several rounds', async () => {
    const codec = new EventCodec(
      createSchemaRegistry(ctx.config.SCHEMA_REGISTRY_URL),
      new TopicNames(ctx.topicPrefix),
      await readSchemaFiles(),
    );
    await codec.registerAll();
    const metrics = new Registry();
    const service = new MaterializerService(
      pool,
      codec,
      { ...ctx.config, MATERIALIZER_MAX_PENDING_BYTES: 35_000 },
      metrics,
      ctx.logger,
    );
    const batch = {
      topic: 'patch.created',
      partition: 0,
      messages: [
        {
          key: workflowId,
          value: {
            eventId: randomUUID(),
            type: 'patch.created',
            seq: PATCHES,
            occurredAt: Date.now(),
            workspaceId,
            workflowId,
            patchId: randomUUID(),
            opsJson: '[]',
            idempotencyKey: null,
          },
          headers: {},
          offset: '0',
          timestamp: '0',
        },
      ],
    } as const satisfies EventBatch<'patch.created'>;
    await service.materialize(batch);

    // One observation per round: the patches it decided.
    const rounds = (await metrics.getSingleMetric('materializer_batch_patches')!.get()).values as {
      metricName?: string;
      labels: Record<string, unknown>;
      value: number;
    }[];
    const count = rounds.find((v) => v.metricName === 'materializer_batch_patches_count')?.value;
    const atMostFive = rounds.find((v) => v.metricName === 'materializer_batch_patches_bucket' && v.labels.le === 5);
    assert.equal(count, PATCHES / 4, 'rounds of 4 patches (35 KB of 10 KB patches)');
    assert.equal(atMostFive?.value, count, 'no round decided more than the budget allows');
    const { rows } = await pool.query<{ seq: string; status: string }>(
      'SELECT seq, status FROM patches WHERE workflow_id = $1 ORDER BY seq',
      [workflowId],
    );
    assert.deepEqual(
      rows.map((r) => r.status),
      Array.from({ length: PATCHES }, () => 'applied'),
    );
    const latest = await pool.query<{ applied_through_seq: string }>(
      'SELECT applied_through_seq FROM workflows WHERE id = $1',
      [workflowId],
    );
    assert.equal(Number(latest.rows[0]!.applied_through_seq), PATCHES);
  });
});
