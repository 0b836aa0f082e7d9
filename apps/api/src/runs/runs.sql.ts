import type { Pool } from '#libs/db';
import type { NodeState, RunStatus } from '#libs/runs';

export interface RunView {
  id: string;
  workflowId: string;
  workflowVersion: number;
  status: RunStatus;
  input: unknown;
  nodes: Record<string, NodeState>;
  output?: unknown;
  error?: string;
  createdAt: string;
  finishedAt: string | null;
}

export async function readRun(pool: Pool, workspaceId: string, runId: string): Promise<RunView | undefined> {
  const { rows } = await pool.query<{
    id: string;
    workflow_id: string;
    workflow_version: number;
    status: RunStatus;
    input: unknown;
    nodes: Record<string, NodeState>;
    output: unknown;
    error: string | null;
    created_at: Date;
    finished_at: Date | null;
  }>(
    `SELECT id, workflow_id, workflow_version, status, input, nodes, output, error, created_at, finished_at
       FROM runs WHERE id = $1 AND workspace_id = $2`,
    [runId, workspaceId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    workflowId: row.workflow_id,
    workflowVersion: row.workflow_version,
    status: row.status,
    input: row.input,
    nodes: row.nodes,
    ...(row.output === null ? {} : { output: row.output }),
    ...(row.error === null ? {} : { error: row.error }),
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}
