import type { Pool } from '#libs/db';
import type { PatchOperation, WorkflowDefinition } from '#libs/workflows';

export interface SourceSnapshot {
  version: number;
  name: string;
  definition: WorkflowDefinition;
  appliedThroughSeq: number;
  createdAt: string;
  latestVersion: number;
  /** Every patch at or below it is decided (the workflow's, not the snapshot's). */
  decidedThroughSeq: number;
}

export interface SourcePatch {
  patchId: string;
  seq: number;
  ops: PatchOperation[];
  status: 'pending' | 'applied' | 'rejected';
  version?: number;
  reason?: string;
  createdAt: string;
}

/** The latest version at or below `atOrBelow` (the latest without it) of a workflow in the workspace. */
export async function readSnapshot(
  pool: Pool,
  workspaceId: string,
  workflowId: string,
  atOrBelow: number | undefined,
): Promise<SourceSnapshot | undefined> {
  const { rows } = await pool.query<{
    name: string;
    version: number;
    definition: WorkflowDefinition;
    applied_through_seq: string;
    created_at: Date;
    latest_version: number;
    decided_through_seq: string;
  }>(
    `SELECT w.name, v.version, v.definition, v.applied_through_seq, v.created_at, w.latest_version,
            w.applied_through_seq AS decided_through_seq
       FROM workflows w
       JOIN LATERAL (SELECT * FROM workflow_versions
                      WHERE workflow_id = w.id AND version <= LEAST(COALESCE($3, w.latest_version), w.latest_version)
                      ORDER BY version DESC LIMIT 1) v ON true
      WHERE w.id = $1 AND w.workspace_id = $2`,
    [workflowId, workspaceId, atOrBelow ?? null],
  );
  const row = rows[0];
  return (
    row && {
      version: row.version,
      name: row.name,
      definition: row.definition,
      appliedThroughSeq: Number(row.applied_through_seq),
      createdAt: row.created_at.toISOString(),
      latestVersion: row.latest_version,
      decidedThroughSeq: Number(row.decided_through_seq),
    }
  );
}

/** The patches after `afterSeq`, in sequence order, at most `limit` (a range of the (workflow_id, seq) index). */
export async function readPatchesAfter(
  pool: Pool,
  workflowId: string,
  afterSeq: number,
  limit: number,
): Promise<SourcePatch[]> {
  const { rows } = await pool.query<{
    id: string;
    seq: string;
    ops: PatchOperation[];
    status: SourcePatch['status'];
    version: number | null;
    reason: string | null;
    created_at: Date;
  }>(
    `SELECT id, seq, ops, status, version, reason, created_at FROM patches
      WHERE workflow_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [workflowId, afterSeq, limit],
  );
  return rows.map((row) => ({
    patchId: row.id,
    seq: Number(row.seq),
    ops: row.ops,
    status: row.status,
    ...(row.version === null ? {} : { version: row.version }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    createdAt: row.created_at.toISOString(),
  }));
}

/** Two consecutive versions' definitions and the patches the later one applied; undefined when it does not exist. */
export async function readVersionPair(
  pool: Pool,
  workspaceId: string,
  workflowId: string,
  version: number,
): Promise<
  | {
      definition: WorkflowDefinition;
      previous: WorkflowDefinition | undefined;
      applied: { patchId: string; seq: number }[];
    }
  | undefined
> {
  const { rows } = await pool.query<{ version: number; definition: WorkflowDefinition }>(
    `SELECT v.version, v.definition FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id
      WHERE v.workflow_id = $1 AND w.workspace_id = $2 AND v.version IN ($3, $3 - 1)`,
    [workflowId, workspaceId, version],
  );
  const current = rows.find((row) => row.version === version);
  if (!current) return undefined;
  const applied = await pool.query<{ id: string; seq: string }>(
    `SELECT id, seq FROM patches WHERE workflow_id = $1 AND status = 'applied' AND version = $2 ORDER BY seq`,
    [workflowId, version],
  );
  return {
    definition: current.definition,
    previous: rows.find((row) => row.version === version - 1)?.definition,
    applied: applied.rows.map((row) => ({ patchId: row.id, seq: Number(row.seq) })),
  };
}
