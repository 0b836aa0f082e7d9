import type { listCacheHits as listCacheHitsRoute, RouteOutput } from '#libs/api-contract';
import type { Pool } from '#libs/db';

/** A node attempt whose output came from the node result cache, and where that output came from. */
export type CacheHitView = RouteOutput<typeof listCacheHitsRoute>['hits'][number];

export interface CacheHitFilter {
  readonly runId?: string | undefined;
  readonly fromRunId?: string | undefined;
  readonly nodeType?: string | undefined;
  /** The position after which the page starts (the `cursor` of the previous page's last hit). */
  readonly after?: CacheHitCursor | undefined;
  readonly limit: number;
}

/** A position in the newest-first order: the hit time as Postgres prints it (exact to the microsecond) and the key. */
export type CacheHitCursor = readonly [hitAt: string, runId: string, nodeId: string, attempt: number];

/** One workspace's cache hits, newest first, filtered and paged by keyset. */
export async function listCacheHits(
  pool: Pool,
  workspaceId: string,
  filter: CacheHitFilter,
): Promise<{ hits: CacheHitView[]; last: CacheHitCursor | undefined }> {
  const { rows } = await pool.query<{
    run_id: string;
    node_id: string;
    attempt: number;
    node_type: string;
    from_run_id: string;
    from_node_id: string;
    produced_at: Date;
    hit_at: Date;
    hit_at_text: string;
    saved_ms: string;
    match: 'exact' | 'semantic';
    similarity: number | null;
  }>(
    `SELECT run_id, node_id, attempt, node_type, from_run_id, from_node_id, produced_at, hit_at,
            hit_at::text AS hit_at_text, saved_ms, match, similarity
       FROM cache_hits
      WHERE workspace_id = $1
        AND ($2::uuid IS NULL OR run_id = $2)
        AND ($3::uuid IS NULL OR from_run_id = $3)
        AND ($4::text IS NULL OR node_type = $4)
        AND ($5::timestamptz IS NULL OR (hit_at, run_id, node_id, attempt) < ($5, $6::uuid, $7::text, $8::int))
      ORDER BY hit_at DESC, run_id DESC, node_id DESC, attempt DESC
      LIMIT $9`,
    [
      workspaceId,
      filter.runId ?? null,
      filter.fromRunId ?? null,
      filter.nodeType ?? null,
      filter.after?.[0] ?? null,
      filter.after?.[1] ?? null,
      filter.after?.[2] ?? null,
      filter.after?.[3] ?? null,
      filter.limit,
    ],
  );
  const lastRow = rows.at(-1);
  return {
    hits: rows.map((row) => ({
      runId: row.run_id,
      nodeId: row.node_id,
      attempt: row.attempt,
      nodeType: row.node_type,
      fromRunId: row.from_run_id,
      fromNodeId: row.from_node_id,
      producedAt: row.produced_at.toISOString(),
      hitAt: row.hit_at.toISOString(),
      savedMs: Number(row.saved_ms),
      match: row.match,
      similarity: row.similarity,
    })),
    last: lastRow && [lastRow.hit_at_text, lastRow.run_id, lastRow.node_id, lastRow.attempt],
  };
}
