import type { PoolClient } from 'pg';
import type { Pool } from '#libs/db';
import { isTerminal, type Effect, type RunState, type RunStatus, type TimerKind } from '#libs/runs';

/** A run as the coordinator keeps it: identity, what it runs, and the state plus the version it was read at. */
export interface StoredRun {
  readonly id: string;
  readonly workspaceId: string;
  readonly workflowId: string;
  readonly workflowVersion: number;
  readonly input: unknown;
  readonly tag: string | null;
  readonly createdAt: number;
  /** Still `pending` with event seq 0 until its coordinator handled run.requested. */
  readonly started: boolean;
  readonly state: RunState;
  readonly version: number;
}

interface RunRow {
  id: string;
  workspace_id: string;
  workflow_id: string;
  workflow_version: number;
  status: RunStatus;
  input: unknown;
  tag: string | null;
  nodes: RunState['nodes'];
  edges: RunState['edges'];
  output: unknown;
  error: string | null;
  event_seq: string;
  version: number;
  created_ms: string;
}

export async function loadRuns(pool: Pool, ids: readonly string[]): Promise<StoredRun[]> {
  if (!ids.length) return [];
  const { rows } = await pool.query<RunRow>(
    `SELECT id, workspace_id, workflow_id, workflow_version, status, input, tag, nodes, edges, output, error,
            event_seq, version, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms
       FROM runs WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return rows.map((row) => ({
    id: row.id,
    workspaceId: row.workspace_id,
    workflowId: row.workflow_id,
    workflowVersion: row.workflow_version,
    input: row.input,
    tag: row.tag,
    createdAt: Number(row.created_ms),
    started: Number(row.event_seq) > 0,
    version: row.version,
    state: {
      status: row.status,
      nodes: row.nodes,
      edges: row.edges,
      eventSeq: Number(row.event_seq),
      ...(row.output === null ? {} : { output: row.output }),
      ...(row.error === null ? {} : { error: row.error }),
    },
  }));
}

export interface RunWrite {
  readonly run: StoredRun;
  readonly state: RunState;
  readonly effects: readonly Effect[];
}

/** Some run changed under us: another coordinator owned it for a moment (a rebalance). The batch is retried. */
export class RunVersionConflict extends Error {
  override readonly name = 'RunVersionConflict';
  /** Postgres' serialization_failure: the batch transport retries it as transient, however many times it happens. */
  readonly code = '40001';
  constructor(readonly runIds: readonly string[]) {
    super(`runs changed concurrently: ${runIds.join(', ')}`);
  }
}

/**
 * Stores a batch of transitions with set-based statements: run rows (only where the version is still the one read),
 * run events, timers and approvals. Outbox rows are written by the caller in the same transaction.
 */
export async function storeTransitions(client: PoolClient, writes: readonly RunWrite[]): Promise<void> {
  if (!writes.length) return;
  const updated = await client.query<{ id: string }>(
    `UPDATE runs r
        SET status = u.status, nodes = u.nodes::jsonb, edges = u.edges::jsonb, output = u.output::jsonb,
            error = u.error, event_seq = u.event_seq, version = r.version + 1, updated_at = now(),
            finished_at = CASE WHEN u.terminal THEN now() END
       FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bool[])
            AS u(id, expected, status, nodes, edges, output, error, event_seq, terminal)
      WHERE r.id = u.id AND r.version = u.expected
      RETURNING r.id`,
    [
      writes.map((w) => w.run.id),
      writes.map((w) => w.run.version),
      writes.map((w) => w.state.status),
      writes.map((w) => JSON.stringify(w.state.nodes)),
      writes.map((w) => JSON.stringify(w.state.edges)),
      writes.map((w) => (w.state.output === undefined ? null : JSON.stringify(w.state.output))),
      writes.map((w) => w.state.error ?? null),
      writes.map((w) => w.state.eventSeq),
      writes.map((w) => isTerminal(w.state.status)),
    ],
  );
  if (updated.rowCount !== writes.length) {
    const done = new Set(updated.rows.map((r) => r.id));
    throw new RunVersionConflict(writes.filter((w) => !done.has(w.run.id)).map((w) => w.run.id));
  }
  await insertRunEvents(client, writes);
  await writeTimers(client, writes);
  await writeApprovals(client, writes);
}

async function insertRunEvents(client: PoolClient, writes: readonly RunWrite[]): Promise<void> {
  const events = writes.flatMap((w) =>
    w.effects.flatMap((e) => (e.type === 'event' ? [{ run: w.run, event: e }] : [])),
  );
  if (!events.length) return;
  await client.query(
    `INSERT INTO run_events (run_id, seq, workflow_id, workspace_id, kind, status, node_id, detail)
     SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
    [
      events.map((e) => e.run.id),
      events.map((e) => e.event.seq),
      events.map((e) => e.run.workflowId),
      events.map((e) => e.run.workspaceId),
      events.map((e) => e.event.kind),
      events.map((e) => e.event.status),
      events.map((e) => e.event.nodeId ?? null),
      events.map((e) => (e.event.detail ? JSON.stringify(e.event.detail) : null)),
    ],
  );
}

interface TimerRow {
  key: string;
  kind: TimerKind;
  fireAt: number;
  nodeId: string | null;
  attempt: number | null;
}

/** The net timer changes of each run: a timer set and cleared within one batch is never written. */
async function writeTimers(client: PoolClient, writes: readonly RunWrite[]): Promise<void> {
  const clearAll: string[] = [];
  const set: { run: StoredRun; timer: TimerRow }[] = [];
  const cleared: { runId: string; key: string }[] = [];
  for (const w of writes) {
    const net = new Map<string, TimerRow | null>();
    let wipe = false;
    for (const e of w.effects) {
      if (e.type === 'set_timer')
        net.set(e.key, {
          key: e.key,
          kind: e.kind,
          fireAt: e.fireAt,
          nodeId: e.nodeId ?? null,
          attempt: e.attempt ?? null,
        });
      else if (e.type === 'clear_timer') net.set(e.key, null);
      else if (e.type === 'clear_all_timers') {
        wipe = true;
        net.clear();
      }
    }
    if (wipe) clearAll.push(w.run.id);
    for (const [key, timer] of net) {
      if (timer) set.push({ run: w.run, timer });
      else cleared.push({ runId: w.run.id, key });
    }
  }
  if (clearAll.length) await client.query('DELETE FROM run_timers WHERE run_id = ANY($1::uuid[])', [clearAll]);
  if (cleared.length) {
    await client.query(
      'DELETE FROM run_timers t USING unnest($1::uuid[], $2::text[]) AS c(run_id, key) WHERE t.run_id = c.run_id AND t.timer_key = c.key',
      [cleared.map((c) => c.runId), cleared.map((c) => c.key)],
    );
  }
  if (set.length) {
    await client.query(
      `INSERT INTO run_timers (run_id, timer_key, kind, node_id, attempt, workspace_id, fire_at)
       SELECT r, k, kd, n, a, w, to_timestamp(f / 1000.0)
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::uuid[], $7::float8[]) AS t(r, k, kd, n, a, w, f)
       ON CONFLICT (run_id, timer_key) DO UPDATE SET fire_at = excluded.fire_at`,
      [
        set.map((s) => s.run.id),
        set.map((s) => s.timer.key),
        set.map((s) => s.timer.kind),
        set.map((s) => s.timer.nodeId),
        set.map((s) => s.timer.attempt),
        set.map((s) => s.run.workspaceId),
        set.map((s) => s.timer.fireAt),
      ],
    );
  }
}

async function writeApprovals(client: PoolClient, writes: readonly RunWrite[]): Promise<void> {
  const opened = writes.flatMap((w) =>
    w.effects.flatMap((e) => (e.type === 'open_approval' ? [{ run: w.run, e }] : [])),
  );
  if (opened.length) {
    await client.query(
      `INSERT INTO approvals (run_id, node_id, attempt, workspace_id, prompt)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[], $5::text[]) ON CONFLICT DO NOTHING`,
      [
        opened.map((o) => o.run.id),
        opened.map((o) => o.e.nodeId),
        opened.map((o) => o.e.attempt),
        opened.map((o) => o.run.workspaceId),
        opened.map((o) => o.e.prompt),
      ],
    );
  }
  const expired = writes.flatMap((w) =>
    w.effects.flatMap((e) =>
      e.type === 'expire_approvals' ? [{ runId: w.run.id, nodeId: e.nodeId ?? null, attempt: e.attempt ?? null }] : [],
    ),
  );
  if (expired.length) {
    await client.query(
      `UPDATE approvals a SET status = 'expired', decided_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::int[]) AS x(run_id, node_id, attempt)
        WHERE a.run_id = x.run_id AND a.status = 'pending'
          AND (x.node_id IS NULL OR (a.node_id = x.node_id AND a.attempt = x.attempt))`,
      [expired.map((x) => x.runId), expired.map((x) => x.nodeId), expired.map((x) => x.attempt)],
    );
  }
}

/** Fails runs whose own events went to a dead-letter topic, bypassing the machine that could not handle them. */
export async function failRunsDirectly(
  client: PoolClient,
  failures: readonly { runId: string; reason: string }[],
): Promise<{ runId: string; workflowId: string; workspaceId: string; seq: number; reason: string }[]> {
  const { rows } = await client.query<{
    id: string;
    workflow_id: string;
    workspace_id: string;
    event_seq: string;
    reason: string;
  }>(
    `UPDATE runs r SET status = 'failed', error = f.reason, event_seq = r.event_seq + 1, version = r.version + 1,
            updated_at = now(), finished_at = now(),
            -- as the machine ends a run: nodes still at work are cancelled
            nodes = (SELECT coalesce(jsonb_object_agg(id, CASE WHEN state ->> 'status' IN ('running', 'waiting')
                                                              OR (state ->> 'status' = 'pending' AND (state ->> 'attempts')::int > 0)
                                                          THEN jsonb_set(state, '{status}', '"cancelled"') ELSE state END), '{}')
                       FROM jsonb_each(r.nodes) AS n(id, state))
       FROM unnest($1::uuid[], $2::text[]) AS f(id, reason)
      WHERE r.id = f.id AND r.finished_at IS NULL
      RETURNING r.id, r.workflow_id, r.workspace_id, r.event_seq, f.reason`,
    [failures.map((f) => f.runId), failures.map((f) => f.reason)],
  );
  const failed = rows.map((r) => ({
    runId: r.id,
    workflowId: r.workflow_id,
    workspaceId: r.workspace_id,
    seq: Number(r.event_seq),
    reason: r.reason,
  }));
  if (!failed.length) return failed;
  const ids = failed.map((f) => f.runId);
  await client.query('DELETE FROM run_timers WHERE run_id = ANY($1::uuid[])', [ids]);
  await client.query(
    "UPDATE approvals SET status = 'expired', decided_at = now() WHERE run_id = ANY($1::uuid[]) AND status = 'pending'",
    [ids],
  );
  await client.query(
    `INSERT INTO run_events (run_id, seq, workflow_id, workspace_id, kind, status, detail)
     SELECT r, s, w, ws, 'run.failed', 'failed', jsonb_build_object('error', e)
       FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::uuid[], $5::text[]) AS t(r, s, w, ws, e)`,
    [
      failed.map((f) => f.runId),
      failed.map((f) => f.seq),
      failed.map((f) => f.workflowId),
      failed.map((f) => f.workspaceId),
      failed.map((f) => f.reason),
    ],
  );
  return failed;
}
