import type { PoolClient } from 'pg';
import { preparedStatement } from '#libs/db';
import { isTerminal, type Effect, type RunState, type TimerKind } from '#libs/runs';

/** A run's transitions since the projection last saw it, folded: its latest state and every effect on the way. */
export interface ProjectedWrite {
  readonly run: { readonly id: string; readonly workspaceId: string; readonly workflowId: string };
  readonly state: RunState;
  /** The changelog seq of the latest record: the projection's version of the run. */
  readonly version: number;
  /** When the latest transition happened. */
  readonly at: number;
  /** Effects in order, each with when its transition happened. */
  readonly effects: readonly (Effect & { readonly at?: number })[];
  /** What the latest record carries by reference (`sha256:…`): the coordinator restores the run from it. */
  readonly contentRefs: readonly string[];
}

// Prepared once per connection: the projector runs these for every batch.
const RUN_VERSIONS = preparedStatement(
  'projection.run-versions',
  'SELECT id, version FROM runs WHERE id = ANY($1::uuid[])',
);
const UPDATE_RUNS = preparedStatement(
  'projection.update-runs',
  `UPDATE runs r
        SET status = u.status, nodes = u.nodes::jsonb, edges = u.edges::jsonb, output = u.output::jsonb,
            error = u.error, event_seq = u.event_seq, version = u.version, updated_at = to_timestamp(u.at / 1000.0),
            finished_at = CASE WHEN u.terminal THEN to_timestamp(u.at / 1000.0) END,
            content_refs = string_to_array(u.content_refs, ' ')
       FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],
                   $9::bool[], $10::float8[], $11::text[])
            AS u(id, version, status, nodes, edges, output, error, event_seq, terminal, at, content_refs)
      WHERE r.id = u.id AND r.version < u.version`,
);
const INSERT_RUN_EVENTS = preparedStatement(
  'projection.insert-run-events',
  `INSERT INTO run_events (run_id, seq, workflow_id, workspace_id, kind, status, node_id, detail, occurred_at)
     SELECT r, s, wf, ws, k, st, n, d, to_timestamp(a / 1000.0)
       FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
                   $9::float8[]) AS e(r, s, wf, ws, k, st, n, d, a)
     ON CONFLICT (run_id, seq) DO NOTHING`,
);
const CLEAR_ALL_TIMERS = preparedStatement(
  'projection.clear-all-timers',
  'DELETE FROM run_timers WHERE run_id = ANY($1::uuid[])',
);
const CLEAR_TIMERS = preparedStatement(
  'projection.clear-timers',
  'DELETE FROM run_timers t USING unnest($1::uuid[], $2::text[]) AS c(run_id, key) WHERE t.run_id = c.run_id AND t.timer_key = c.key',
);
const SET_TIMERS = preparedStatement(
  'projection.set-timers',
  `INSERT INTO run_timers (run_id, timer_key, kind, node_id, attempt, workspace_id, fire_at)
       SELECT r, k, kd, n, a, w, to_timestamp(f / 1000.0)
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::uuid[], $7::float8[]) AS t(r, k, kd, n, a, w, f)
       ON CONFLICT (run_id, timer_key) DO UPDATE SET fire_at = excluded.fire_at`,
);

/** The projected version of each run (absent: no such run). */
export async function projectedVersions(client: PoolClient, ids: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await client.query<{ id: string; version: number }>(RUN_VERSIONS.with([ids]));
  return new Map(rows.map((r) => [r.id, r.version]));
}

/**
 * Projects a batch of folded transitions with set-based statements: run rows (only over an older version, so a
 * replayed record changes nothing), run events, timers and approvals.
 */
export async function storeProjection(client: PoolClient, writes: readonly ProjectedWrite[]): Promise<void> {
  if (!writes.length) return;
  await client.query(
    UPDATE_RUNS.with([
      writes.map((w) => w.run.id),
      writes.map((w) => w.version),
      writes.map((w) => w.state.status),
      writes.map((w) => JSON.stringify(w.state.nodes)),
      writes.map((w) => JSON.stringify(w.state.edges)),
      writes.map((w) => (w.state.output === undefined ? null : JSON.stringify(w.state.output))),
      writes.map((w) => w.state.error ?? null),
      writes.map((w) => w.state.eventSeq),
      writes.map((w) => isTerminal(w.state.status)),
      writes.map((w) => w.at),
      // Space-separated: unnest cannot take an array per row.
      writes.map((w) => w.contentRefs.join(' ')),
    ]),
  );
  await insertRunEvents(client, writes);
  await writeTimers(client, writes);
  await writeApprovals(client, writes);
  await insertCacheHits(client, writes);
}

async function insertRunEvents(client: PoolClient, writes: readonly ProjectedWrite[]): Promise<void> {
  const events = writes.flatMap((w) =>
    w.effects.flatMap((e) => (e.type === 'event' ? [{ run: w.run, event: e, at: e.at ?? w.at }] : [])),
  );
  if (!events.length) return;
  await client.query(
    INSERT_RUN_EVENTS.with([
      events.map((e) => e.run.id),
      events.map((e) => e.event.seq),
      events.map((e) => e.run.workflowId),
      events.map((e) => e.run.workspaceId),
      events.map((e) => e.event.kind),
      events.map((e) => e.event.status),
      events.map((e) => e.event.nodeId ?? null),
      events.map((e) => (e.event.detail ? JSON.stringify(e.event.detail) : null)),
      events.map((e) => e.at),
    ]),
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
async function writeTimers(client: PoolClient, writes: readonly ProjectedWrite[]): Promise<void> {
  const clearAll: string[] = [];
  const set: { run: ProjectedWrite['run']; timer: TimerRow }[] = [];
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
  if (clearAll.length) await client.query(CLEAR_ALL_TIMERS.with([clearAll]));
  if (cleared.length) {
    await client.query(CLEAR_TIMERS.with([cleared.map((c) => c.runId), cleared.map((c) => c.key)]));
  }
  if (set.length) {
    await client.query(
      SET_TIMERS.with([
        set.map((s) => s.run.id),
        set.map((s) => s.timer.key),
        set.map((s) => s.timer.kind),
        set.map((s) => s.timer.nodeId),
        set.map((s) => s.timer.attempt),
        set.map((s) => s.run.workspaceId),
        set.map((s) => s.timer.fireAt),
      ]),
    );
  }
}

async function writeApprovals(client: PoolClient, writes: readonly ProjectedWrite[]): Promise<void> {
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

/** The audit trail of node outputs served from the caches, and how they matched (replays insert nothing twice). */
async function insertCacheHits(client: PoolClient, writes: readonly ProjectedWrite[]): Promise<void> {
  const hits = writes.flatMap((w) =>
    w.effects.flatMap((e) => (e.type === 'cache_hit' ? [{ run: w.run, hit: e, at: e.at ?? w.at }] : [])),
  );
  if (!hits.length) return;
  await client.query(
    `INSERT INTO cache_hits (run_id, node_id, attempt, workspace_id, node_type, from_run_id, from_node_id, produced_at,
                             saved_ms, hit_at, model, prompt_tokens, completion_tokens, match, similarity)
     SELECT r, n, a, w, t, fr, fn, p, s, to_timestamp(h / 1000.0), m, pt, ct, mt, sim
       FROM unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[], $5::text[], $6::uuid[], $7::text[],
                   $8::timestamptz[], $9::bigint[], $10::float8[], $11::text[], $12::bigint[], $13::bigint[],
                   $14::text[], $15::float8[])
            AS c(r, n, a, w, t, fr, fn, p, s, h, m, pt, ct, mt, sim)
     ON CONFLICT (run_id, node_id, attempt) DO NOTHING`,
    [
      hits.map((h) => h.run.id),
      hits.map((h) => h.hit.nodeId),
      hits.map((h) => h.hit.attempt),
      hits.map((h) => h.run.workspaceId),
      hits.map((h) => h.hit.nodeType),
      hits.map((h) => h.hit.fromRunId),
      hits.map((h) => h.hit.fromNodeId),
      hits.map((h) => h.hit.producedAt),
      hits.map((h) => h.hit.savedMs),
      hits.map((h) => h.at),
      hits.map((h) => h.hit.tokens?.model ?? null),
      hits.map((h) => h.hit.tokens?.promptTokens ?? null),
      hits.map((h) => h.hit.tokens?.completionTokens ?? null),
      hits.map((h) => h.hit.match ?? 'exact'),
      hits.map((h) => h.hit.similarity ?? null),
    ],
  );
}
