import type { Pool } from '#libs/db';
import type { RunState, RunStatus } from '#libs/runs';
import type { OwnedRun } from './owned-run.js';

/**
 * The rare path: runs a coordinator does not hold but has input for. A run it forgot (finished longer ago than
 * RUN_FINISHED_RETENTION_MS), a run whose run.requested it never got to read (a cancel or timeout overtook it, or the
 * request went to dead letters), a request older than the retention (a backlog, or a duplicate). The projection
 * answers: finished runs are left alone (absent here), unfinished ones are taken up from their projected state.
 */
export async function unfinishedProjectedRuns(pool: Pool, ids: readonly string[]): Promise<Map<string, OwnedRun>> {
  if (!ids.length) return new Map();
  const { rows } = await pool.query<{
    id: string;
    workspace_id: string;
    workflow_id: string;
    workflow_version: number;
    status: RunStatus;
    input: unknown;
    tag: string | null;
    permission: string | null;
    nodes: RunState['nodes'];
    edges: RunState['edges'];
    event_seq: string;
    version: number;
    created_ms: string;
  }>(
    `SELECT id, workspace_id, workflow_id, workflow_version, status, input, tag, permission, nodes, edges, event_seq,
            version,
            (extract(epoch FROM created_at) * 1000)::bigint AS created_ms
       FROM runs WHERE id = ANY($1::uuid[]) AND finished_at IS NULL`,
    [ids],
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        workspaceId: row.workspace_id,
        workflowId: row.workflow_id,
        workflowVersion: row.workflow_version,
        input: row.input,
        tag: row.tag,
        permission: row.permission,
        requestedAt: Number(row.created_ms),
        version: row.version,
        state: { status: row.status, nodes: row.nodes, edges: row.edges, eventSeq: Number(row.event_seq) },
      },
    ]),
  );
}
