import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import { inTransaction, ReadRouting, type Pool } from '#libs/db';
import { envelope, type EventCodec } from '#libs/events';
import { insertOutboxRows } from '#libs/outbox';
import { CONFIG, EVENT_CODEC, PG_POOL } from '#libs/platform';
import type { WorkflowDefinition } from '#libs/workflows';
import type { listWorkflows, RouteOutput } from '#libs/api-contract';
import { likePattern, type PageCursor } from '../page-cursor.js';

export interface WorkflowVersionView {
  id: string;
  name: string;
  version: number;
  definition: WorkflowDefinition;
  appliedThroughSeq: number;
  createdAt: string;
}

export type WorkflowSummaryView = RouteOutput<typeof listWorkflows>['workflows'][number];

export type PatchView =
  | { patchId: string; seq: number; status: 'pending'; createdAt: string }
  | { patchId: string; seq: number; status: 'applied'; version: number; createdAt: string; decidedAt: string }
  | { patchId: string; seq: number; status: 'rejected'; reason: string; createdAt: string; decidedAt: string };

interface PatchRow {
  id: string;
  seq: string;
  status: 'pending' | 'applied' | 'rejected';
  version: number | null;
  reason: string | null;
  created_at: Date;
  decided_at: Date | null;
}

function toPatchView(row: PatchRow): PatchView {
  const base = { patchId: row.id, seq: Number(row.seq), createdAt: row.created_at.toISOString() };
  const decidedAt = row.decided_at?.toISOString() ?? '';
  if (row.status === 'applied') return { ...base, status: 'applied', version: row.version ?? 0, decidedAt };
  if (row.status === 'rejected') return { ...base, status: 'rejected', reason: row.reason ?? '', decidedAt };
  return { ...base, status: 'pending' };
}

/**
 * Reads and the one non-batched write of the workflows context; every query is scoped to the caller's workspace.
 * Reads go to the read replica when there is one (`token`: the caller's last write's, for read-your-writes); one
 * resource the replica does not have yet is looked up on the primary, so it never reads as missing after its write.
 */
@Injectable()
export class WorkflowsRepository {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly reads: ReadRouting,
  ) {}

  /** The token a client sends back on reads to see the write that just committed (none without a replica). */
  consistencyToken(): Promise<string | undefined> {
    return this.reads.writeToken();
  }

  /** Version 1 and its workflow.materialized event, in one transaction. */
  async create(workspaceId: string, name: string, definition: WorkflowDefinition): Promise<{ id: string; version: 1 }> {
    const id = randomUUID();
    const row = await this.codec.outboxRow('workflow.materialized', id, {
      ...envelope(1, workspaceId),
      type: 'workflow.materialized',
      workflowId: id,
      version: 1,
      appliedThroughSeq: 0,
      appliedPatchIds: [],
      rejected: [],
    });
    await inTransaction(this.pool, async (client) => {
      await client.query('INSERT INTO workflows (id, workspace_id, name) VALUES ($1, $2, $3)', [id, workspaceId, name]);
      await client.query('INSERT INTO workflow_sequences (workflow_id, workspace_id) VALUES ($1, $2)', [
        id,
        workspaceId,
      ]);
      await client.query(
        'INSERT INTO workflow_versions (workflow_id, version, definition, applied_through_seq) VALUES ($1, 1, $2, 0)',
        [id, JSON.stringify(definition)],
      );
      await insertOutboxRows(client, [row]);
    });
    return { id, version: 1 };
  }

  getVersion(
    workspaceId: string,
    workflowId: string,
    version?: number,
    token?: string,
  ): Promise<WorkflowVersionView | undefined> {
    return this.reads.read(token, (db) => readVersion(db, workspaceId, workflowId, version), Boolean);
  }

  getPatch(workspaceId: string, workflowId: string, patchId: string, token?: string): Promise<PatchView | undefined> {
    return this.reads.read(token, (db) => readPatch(db, workspaceId, workflowId, patchId), Boolean);
  }

  /** One page of the history, oldest first, by sequence number (keyset: cheap at any depth). */
  listPatches(
    workspaceId: string,
    workflowId: string,
    afterSeq: number,
    limit: number,
    token?: string,
  ): Promise<PatchView[] | undefined> {
    return this.reads.read(token, (db) => readPatches(db, workspaceId, workflowId, afterSeq, limit), Boolean);
  }

  /** One page of the workspace's workflows, newest first, optionally those whose name contains `q`. */
  listWorkflows(
    workspaceId: string,
    filter: { q?: string | undefined; after?: PageCursor | undefined; limit: number },
    token?: string,
  ): Promise<(WorkflowSummaryView & { cursor: PageCursor })[]> {
    return this.reads.read(token, (db) => readWorkflows(db, workspaceId, filter));
  }
}

async function readVersion(
  db: Pool,
  workspaceId: string,
  workflowId: string,
  version: number | undefined,
): Promise<WorkflowVersionView | undefined> {
  const { rows } = await db.query<{
    name: string;
    version: number;
    definition: WorkflowDefinition;
    applied_through_seq: string;
    created_at: Date;
  }>(
    `SELECT w.name, v.version, v.definition, v.applied_through_seq, v.created_at
         FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id
        WHERE w.id = $1 AND w.workspace_id = $2 AND v.version = COALESCE($3, w.latest_version)`,
    [workflowId, workspaceId, version ?? null],
  );
  const row = rows[0];
  return (
    row && {
      id: workflowId,
      name: row.name,
      version: row.version,
      definition: row.definition,
      appliedThroughSeq: Number(row.applied_through_seq),
      createdAt: row.created_at.toISOString(),
    }
  );
}

async function readPatch(
  db: Pool,
  workspaceId: string,
  workflowId: string,
  patchId: string,
): Promise<PatchView | undefined> {
  const { rows } = await db.query<PatchRow>(
    `SELECT p.id, p.seq, p.status, p.version, p.reason, p.created_at, p.decided_at
         FROM patches p JOIN workflows w ON w.id = p.workflow_id
        WHERE p.id = $1 AND p.workflow_id = $2 AND w.workspace_id = $3`,
    [patchId, workflowId, workspaceId],
  );
  return rows[0] && toPatchView(rows[0]);
}

async function readPatches(
  db: Pool,
  workspaceId: string,
  workflowId: string,
  afterSeq: number,
  limit: number,
): Promise<PatchView[] | undefined> {
  const owner = await db.query('SELECT 1 FROM workflows WHERE id = $1 AND workspace_id = $2', [
    workflowId,
    workspaceId,
  ]);
  if (!owner.rowCount) return undefined;
  const { rows } = await db.query<PatchRow>(
    `SELECT id, seq, status, version, reason, created_at, decided_at FROM patches
        WHERE workflow_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [workflowId, afterSeq, limit],
  );
  return rows.map(toPatchView);
}

async function readWorkflows(
  db: Pool,
  workspaceId: string,
  filter: { q?: string | undefined; after?: PageCursor | undefined; limit: number },
): Promise<(WorkflowSummaryView & { cursor: PageCursor })[]> {
  const { rows } = await db.query<{
    id: string;
    name: string;
    latest_version: number;
    created_at: Date;
    created_at_text: string;
    updated_at: Date;
  }>(
    `SELECT w.id, w.name, w.latest_version, w.created_at, w.created_at::text AS created_at_text,
              v.created_at AS updated_at
         FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.latest_version
        WHERE w.workspace_id = $1
          AND ($2::text IS NULL OR w.name ILIKE $2)
          AND ($3::timestamptz IS NULL OR (w.created_at, w.id) < ($3::timestamptz, $4::uuid))
        ORDER BY w.created_at DESC, w.id DESC
        LIMIT $5`,
    [
      workspaceId,
      filter.q === undefined ? null : likePattern(filter.q),
      filter.after?.at ?? null,
      filter.after?.id ?? null,
      filter.limit,
    ],
  );
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    version: row.latest_version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    cursor: { at: row.created_at_text, id: row.id },
  }));
}
