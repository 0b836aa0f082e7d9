import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { ContentStore } from '#libs/cas';
import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { envelope, type EventCodec } from '#libs/events';
import { createKafka, openProducer, type Producer } from '#libs/kafka';
import { EVENT_CODEC } from '#libs/platform';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { coordinatorRole } from './coordinator.role.js';

/**
 * A run that was under way when the database was upgraded to per-workspace content storage (migrations 0010, 0011):
 * the references only Kafka holds (a completion in flight, the run.state changelog's input, state, effects and node
 * outputs) name blobs that are left in cas_blobs_legacy. The coordinator copies each into the run's workspace when it
 * reads them, and the run completes. One partition, so the restarted coordinator restores this run.
 */
const ctx = useTestContext('legacy-blobs', { partitions: 1 });
const fn = (expression: string) => ({ type: 'function', config: { expression } });
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('a run under way across the upgrade to per-workspace content storage', () => {
  // Small inline limits: the run's input, state and task inputs travel by reference.
  const config: AppConfig = { ...ctx.config, EVENT_INLINE_MAX_BYTES: 256, OUTPUT_INLINE_MAX_BYTES: 256 };
  let api: TestApp;
  let codec: EventCodec;
  let pool: Pool;
  let producer: Producer;

  before(async () => {
    await createTopics(ctx);
    // No worker yet: the first node's completion is the one this test sends, as an old worker sent it.
    api = await startRoles(ctx, [apiRole, outboxRelayRole, runProjectorRole], config);
    codec = api.app.get<EventCodec>(EVENT_CODEC);
    pool = createPool(ctx.databaseUrl, { name: 'legacy-blobs-test' });
    ctx.defer(() => pool.end());
    producer = openProducer(
      createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${ctx.id}-test`, logger: ctx.logger }),
      'legacy-blobs-test',
    );
    await producer.connect();
    ctx.defer(() => producer.disconnect());
  });

  const blobsHeld = async () =>
    (await pool.query<{ held: string }>(`SELECT workspace_id || '/' || sha256 AS held FROM cas_blobs`)).rows.map(
      (r) => r.held,
    );

  it('resolves them in the run’s workspace after the coordinator reads them, and the run completes', async () => {
    const first = await startRoles(ctx, [coordinatorRole], config);
    const workflowId = await createWorkflow(api, {
      nodes: {
        big: fn('input.n'),
        review: { type: 'hitl', config: { prompt: 'go on?' } },
        after: fn('$length(nodes.big.text) + input.n'),
      },
      edges: [
        { from: 'big', to: 'review' },
        { from: 'review', to: 'after' },
      ],
    });
    const runId = await startRun(api, workflowId, { n: 2, pad: 'p'.repeat(2_000) });
    await waitForRun(api, runId, (r) => r.nodes.big?.status === 'running');
    const { rows } = await pool.query<{ w: string }>('SELECT workspace_id AS w FROM runs WHERE id = $1', [runId]);
    const workspaceId = rows[0]!.w;

    // An old worker stored the output in the global layout and sent its reference.
    const output = JSON.stringify({ text: 'y'.repeat(1_000) });
    await pool.query(
      `INSERT INTO cas_blobs_legacy (sha256, size_bytes, content_type, content) VALUES ($1, $2, 'application/json', $3)`,
      [sha(output), Buffer.byteLength(output), Buffer.from(output)],
    );
    await producer.send({
      topic: `${ctx.topicPrefix}node.completed`,
      messages: [
        await codec.message('node.completed', runId, {
          ...envelope(0, workspaceId),
          type: 'node.completed',
          runId,
          nodeId: 'big',
          attempt: 1,
          status: 'succeeded',
          cached: null,
          outputJson: null,
          outputRef: `sha256:${sha(output)}`,
          error: null,
          nodeType: 'function',
          startedAt: Date.now(),
        }),
      ],
    });
    await waitForRun(api, runId, (r) => r.status === 'waiting');
    assert.ok((await blobsHeld()).includes(`${workspaceId}/${sha(output)}`), 'the completion’s output was adopted');

    // The upgrade: what the changelog references (input, state, effects, the output) is left only in the old layout.
    await first.app.close();
    // The old layout held each blob's content itself, uncompressed and inline (before migration 0015).
    const store = new ContentStore(pool);
    const current = await pool.query<{ w: string; sha256: string; type: string; created: Date; put: Date }>(
      'SELECT workspace_id AS w, sha256, content_type AS type, created_at AS created, last_put_at AS put FROM cas_blobs',
    );
    for (const row of current.rows) {
      const blob = await store.get(row.w, `sha256:${row.sha256}`);
      await pool.query(
        `INSERT INTO cas_blobs_legacy (sha256, size_bytes, content_type, content, created_at, last_put_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING`,
        [row.sha256, blob!.content.length, row.type, blob!.content, row.created, row.put],
      );
    }
    await pool.query('DELETE FROM cas_blobs');

    await startRoles(ctx, [coordinatorRole, workerRole], config);
    await eventually(async () => {
      const decided = await api.request('POST', `/v1/runs/${runId}/nodes/review/approval`, {
        body: { approved: true },
      });
      return decided.status === 202 ? true : undefined;
    }, 'the approval');
    const run = await waitForRun(api, runId, undefined, 30_000);
    assert.equal(run.status, 'completed', JSON.stringify(run.nodes));
    assert.deepEqual(run.output, { after: 1_002 });
    const held = await blobsHeld();
    assert.ok(held.includes(`${workspaceId}/${sha(output)}`), 'the restored state’s output was adopted');
    assert.deepEqual(
      held.filter((h) => !h.startsWith(`${workspaceId}/`)),
      [],
      'no other workspace holds any of it',
    );
  });
});
