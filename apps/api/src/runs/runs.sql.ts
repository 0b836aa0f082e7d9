import type { listRuns as listRunsRoute, RouteOutput } from '#libs/api-contract';
import type { PageCursor } from '../page-cursor.js';
import type { TimelineEvent } from './run-timeline.js';
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

export type RunSummaryView = RouteOutput<typeof listRunsRoute>['runs'][number];

export interface RunFilter {
  readonly workflowId?: string | undefined;
  readonly status?: RunStatus | undefined;
  readonly tag?: string | undefined;
  /** ISO 8601: runs created at or after it. */
  readonly since?: string | undefined;
  readonly after?: PageCursor | undefined;
  readonly limit: number;
}

/** One page of a workspace's runs, newest first (keyset on the runs_workspace_recent index). */
export async function listRuns(
  pool: Pool,
  workspaceId: string,
  filter: RunFilter,
): Promise<(RunSummaryView & { cursor: PageCursor })[]> {
  const { rows } = await pool.query<{
    id: string;
    workflow_id: string;
    workflow_version: number;
    status: RunStatus;
    tag: string | null;
    created_at: Date;
    created_at_text: string;
    finished_at: Date | null;
  }>(
    `SELECT id, workflow_id, workflow_version, status, tag, created_at, created_at::text AS created_at_text, finished_at
       FROM runs
      WHERE workspace_id = $1
        AND ($2::uuid IS NULL OR workflow_id = $2)
        AND ($3::text IS NULL OR status = $3)
        AND ($4::text IS NULL OR tag = $4)
        AND ($5::timestamptz IS NULL OR created_at >= $5)
        AND ($6::timestamptz IS NULL OR (created_at, id) < ($6::timestamptz, $7::uuid))
      ORDER BY created_at DESC, id DESC
      LIMIT $8`,
    [
      workspaceId,
      filter.workflowId ?? null,
      filter.status ?? null,
      filter.tag ?? null,
      filter.since ?? null,
      filter.after?.at ?? null,
      filter.after?.id ?? null,
      filter.limit,
    ],
  );
  return rows.map((row) => ({
    id: row.id,
    workflowId: row.workflow_id,
    workflowVersion: row.workflow_version,
    status: row.status,
    tag: row.tag,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    cursor: { at: row.created_at_text, id: row.id },
  }));
}

export async function workflowExists(pool: Pool, workspaceId: string, workflowId: string): Promise<boolean> {
  const { rowCount } = await pool.query('SELECT 1 FROM workflows WHERE id = $1 AND workspace_id = $2', [
    workflowId,
    workspaceId,
  ]);
  return Boolean(rowCount);
}

/** A run's projected events in order; undefined when the run is not the workspace's. */
export async function readRunEvents(
  pool: Pool,
  workspaceId: string,
  runId: string,
): Promise<TimelineEvent[] | undefined> {
  const owner = await pool.query('SELECT 1 FROM runs WHERE id = $1 AND workspace_id = $2', [runId, workspaceId]);
  if (!owner.rowCount) return undefined;
  const { rows } = await pool.query<{
    seq: string;
    kind: string;
    status: string;
    node_id: string | null;
    detail: unknown;
    occurred_at: Date;
  }>('SELECT seq, kind, status, node_id, detail, occurred_at FROM run_events WHERE run_id = $1 ORDER BY seq', [runId]);
  return rows.map((row) => ({
    seq: Number(row.seq),
    kind: row.kind,
    status: row.status,
    nodeId: row.node_id,
    detail: row.detail,
    occurredAt: row.occurred_at.toISOString(),
  }));
}
