import { randomUUID } from 'node:crypto';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { MaterializerService } from '#apps/materializer/src/materializer.service.js';
import { LOCAL_BOOTSTRAP_ADMIN_KEY, type AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import type { PatchCreated } from '#libs/events';
import type { EventBatch } from '#libs/messaging';
import { createRolesApp, PG_POOL } from '#libs/platform';
import { ApiClient, mapLimit } from '../support/api-client.js';
import { progress } from '../support/progress.js';
import { Resources } from '../support/resources.js';
import { createSandbox } from '../support/sandbox.js';
import { startService } from '../support/service.js';
import type { BenchSettings } from '../support/settings.js';
import { createWorkflows, growPatch } from '../support/workflows.js';

interface Accepted {
  readonly patchId: string;
  readonly seq: number;
  readonly ops: unknown[];
}

/**
 * Scenario 3: the time `MaterializerService.materialize()` takes for one batch holding N patches queued for one
 * workflow. The patches go through the real API (a child process without the materializer, so nothing consumes
 * them); the materializer runs in this process, built as its role builds it but without its Kafka consumer. Each
 * repetition uses a fresh workflow; the first one warms up (JIT, connections) and is not counted.
 */
export async function measureQueuedMaterialize(base: AppConfig, settings: BenchSettings): Promise<number[]> {
  const resources = new Resources();
  try {
    const sandbox = await createSandbox(base, 'queued', settings.partitions, resources);
    const service = await startService(sandbox, ['api', 'outbox-relay'], settings, resources);
    const client = new ApiClient(service.origin, 16, LOCAL_BOOTSTRAP_ADMIN_KEY);
    resources.defer('http client', () => client.close());
    const app = await createRolesApp([materializerRole], sandbox.config);
    resources.defer('materializer app', () => app.close());
    await app.init();
    const materializer = app.get(MaterializerService);
    const pool = app.get<Pool>(PG_POOL);
    const workspace = await pool.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'");
    const workspaceId = workspace.rows[0]?.id as string;

    const timings: number[] = [];
    for (let rep = 0; rep <= settings.materializeReps; rep++) {
      const [workflowId] = (await createWorkflows(client, 1, `queued-${rep}`)) as [string];
      const patches = await mapLimit(
        Array.from({ length: settings.queuedPatches }, (_, i) => growPatch(i)),
        16,
        async (body) => ({
          ...(await client.postExpecting<{ patchId: string; seq: number }>(
            202,
            `/v1/workflows/${workflowId}/patches`,
            body,
          )),
          ops: body.ops,
        }),
      );
      const batch = eventBatch(workspaceId, workflowId, patches);
      const started = performance.now();
      await materializer.materialize(batch);
      const ms = performance.now() - started;
      await expectAllApplied(pool, workflowId, settings.queuedPatches);
      if (rep > 0) timings.push(ms);
      progress(
        `materialize ${settings.queuedPatches} queued patches, ${rep ? `rep ${rep}` : 'warm-up'}: ${ms.toFixed(1)} ms`,
      );
    }
    return timings;
  } finally {
    await resources.release();
  }
}

/** The batch the consumer would hand over: one partition's patch.created events for the workflow, in seq order. */
function eventBatch(
  workspaceId: string,
  workflowId: string,
  patches: readonly Accepted[],
): EventBatch<'patch.created'> {
  const now = Date.now();
  const sorted = [...patches].sort((a, b) => a.seq - b.seq);
  return {
    topic: 'patch.created',
    partition: 0,
    messages: sorted.map((patch, offset) => {
      const value: PatchCreated = {
        eventId: randomUUID(),
        type: 'patch.created',
        seq: patch.seq,
        occurredAt: now,
        workspaceId,
        workflowId,
        patchId: patch.patchId,
        opsJson: JSON.stringify(patch.ops),
        idempotencyKey: null,
      };
      return { key: workflowId, value, headers: {}, offset: String(offset), timestamp: String(now) };
    }),
  };
}

async function expectAllApplied(pool: Pool, workflowId: string, expected: number): Promise<void> {
  const { rows } = await pool.query<{ applied: number }>(
    "SELECT count(*)::int AS applied FROM patches WHERE workflow_id = $1 AND status = 'applied'",
    [workflowId],
  );
  const applied = rows[0]?.applied ?? 0;
  if (applied !== expected) throw new Error(`materialize() applied ${applied} of ${expected} queued patches`);
}
