import type { PoolClient } from 'pg';
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

/** Claims an Idempotency-Key for this transaction; false when an earlier request holds it (look its answer up). */
export async function claimIdempotencyKey(
  client: PoolClient,
  workspaceId: string,
  scope: string,
  key: string,
  requestHash: string,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO idempotency_keys (workspace_id, scope, key, request_hash, response_status, response_body)
     VALUES ($1, $2, $3, $4, 0, '{}') ON CONFLICT DO NOTHING`,
    [workspaceId, scope, key, requestHash],
  );
  return rowCount === 1;
}

export async function storeIdempotentAnswer(
  client: PoolClient,
  workspaceId: string,
  scope: string,
  key: string,
  status: number,
  body: unknown,
): Promise<void> {
  await client.query(
    'UPDATE idempotency_keys SET response_status = $4, response_body = $5 WHERE workspace_id = $1 AND scope = $2 AND key = $3',
    [workspaceId, scope, key, status, JSON.stringify(body)],
  );
}

export async function readIdempotentAnswer(
  pool: Pool,
  workspaceId: string,
  scope: string,
  key: string,
): Promise<{ requestHash: string; status: number; body: unknown } | undefined> {
  const { rows } = await pool.query<{ request_hash: string; response_status: number; response_body: unknown }>(
    'SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE workspace_id = $1 AND scope = $2 AND key = $3',
    [workspaceId, scope, key],
  );
  const row = rows[0];
  return row && { requestHash: row.request_hash, status: row.response_status, body: row.response_body };
}
