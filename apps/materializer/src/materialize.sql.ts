import type { PoolClient } from 'pg';
import type { PatchOperation, WorkflowDefinition } from '#libs/workflows';

export interface WorkflowHead {
  readonly id: string;
  readonly workspaceId: string;
  readonly latestVersion: number;
  readonly appliedThroughSeq: number;
  readonly definition: WorkflowDefinition;
}

export interface StoredPatch {
  readonly id: string;
  readonly workflowId: string;
  readonly seq: number;
  readonly ops: PatchOperation[];
}

/**
 * Locks the workflows (in id order, so two materializers never deadlock) and reads their latest version. NO KEY
 * UPDATE leaves patch writers free to insert patches (whose foreign key takes KEY SHARE on the same rows).
 */
export async function lockHeads(client: PoolClient, workflowIds: readonly string[]): Promise<WorkflowHead[]> {
  const { rows } = await client.query<{
    id: string;
    workspace_id: string;
    latest_version: number;
    applied_through_seq: string;
    definition: WorkflowDefinition;
  }>(
    `SELECT w.id, w.workspace_id, w.latest_version, w.applied_through_seq, v.definition
       FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.latest_version
      WHERE w.id = ANY($1::uuid[]) ORDER BY w.id FOR NO KEY UPDATE OF w`,
    [workflowIds],
  );
  return rows.map((r) => ({
    id: r.id,
    workspaceId: r.workspace_id,
    latestVersion: r.latest_version,
    appliedThroughSeq: Number(r.applied_through_seq),
    definition: r.definition,
  }));
}

/**
 * The undecided patches of these workflows, in sequence order, up to about `maxBytes` of operations (JSON text): a
 * prefix in (workflow, seq) order, so each workflow gets its oldest pending patches and none is skipped; at least one
 * patch is read, however large. `complete` is false when more are pending, for another round. Postgres, not the
 * Kafka batch, is the source: a patch whose event is late, lost to a gap, or still in a later batch is decided now,
 * in order, and its event later finds it already decided.
 */
export async function readPending(
  client: PoolClient,
  heads: readonly WorkflowHead[],
  maxBytes: number,
): Promise<{ patches: StoredPatch[]; complete: boolean }> {
  const { rows } = await client.query<{
    id: string;
    workflow_id: string;
    seq: string;
    ops: PatchOperation[];
    pending: string;
  }>(
    `SELECT id, workflow_id, seq, ops, pending FROM (
       SELECT p.id, p.workflow_id, p.seq, p.ops, octet_length(p.ops::text) AS bytes,
              sum(octet_length(p.ops::text)) OVER (ORDER BY p.workflow_id, p.seq) AS upto,
              count(*) OVER () AS pending
         FROM patches p
         JOIN unnest($1::uuid[], $2::bigint[]) AS h(id, applied) ON h.id = p.workflow_id
        WHERE p.status = 'pending' AND p.seq > h.applied) q
      WHERE upto - bytes < $3
      ORDER BY workflow_id, seq`,
    [heads.map((h) => h.id), heads.map((h) => h.appliedThroughSeq), maxBytes],
  );
  const patches = rows.map((r) => ({ id: r.id, workflowId: r.workflow_id, seq: Number(r.seq), ops: r.ops }));
  return { patches, complete: patches.length === Number(rows[0]?.pending ?? 0) };
}

export interface NewVersion {
  readonly workflowId: string;
  readonly version: number;
  readonly definition: WorkflowDefinition;
  readonly appliedThroughSeq: number;
  readonly patchCount: number;
}

export interface Decision {
  readonly patchId: string;
  readonly status: 'applied' | 'rejected';
  readonly version: number | null;
  readonly reason: string | null;
}

export interface HeadUpdate {
  readonly workflowId: string;
  readonly latestVersion: number;
  readonly appliedThroughSeq: number;
}

/** The batch's writes, one set-based statement each. */
export async function writeDecisions(
  client: PoolClient,
  versions: readonly NewVersion[],
  decisions: readonly Decision[],
  heads: readonly HeadUpdate[],
): Promise<void> {
  if (versions.length) {
    await client.query(
      `INSERT INTO workflow_versions (workflow_id, version, definition, applied_through_seq, patch_count)
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::jsonb[], $4::bigint[], $5::int[])`,
      [
        versions.map((v) => v.workflowId),
        versions.map((v) => v.version),
        versions.map((v) => JSON.stringify(v.definition)),
        versions.map((v) => v.appliedThroughSeq),
        versions.map((v) => v.patchCount),
      ],
    );
  }
  if (decisions.length) {
    await client.query(
      `UPDATE patches p SET status = d.status, version = d.version, reason = d.reason, decided_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[]) AS d(id, status, version, reason)
        WHERE p.id = d.id AND p.status = 'pending'`,
      [
        decisions.map((d) => d.patchId),
        decisions.map((d) => d.status),
        decisions.map((d) => d.version),
        decisions.map((d) => d.reason),
      ],
    );
  }
  if (heads.length) {
    await client.query(
      `UPDATE workflows w SET latest_version = h.version, applied_through_seq = h.applied
         FROM unnest($1::uuid[], $2::int[], $3::bigint[]) AS h(id, version, applied) WHERE w.id = h.id`,
      [heads.map((h) => h.workflowId), heads.map((h) => h.latestVersion), heads.map((h) => h.appliedThroughSeq)],
    );
  }
}
