import type { Pool } from '#libs/db';
import type { HitGroup } from './cache-stats.js';

/**
 * A workspace's cache hits in [since, until], grouped by node type, model (the tokens they did not spend) and how they
 * matched.
 */
export async function hitGroups(pool: Pool, workspaceId: string, since: Date, until: Date): Promise<HitGroup[]> {
  const { rows } = await pool.query<{
    node_type: string;
    model: string | null;
    match: string;
    hits: string;
    saved_ms: string;
    prompt_tokens: string;
    completion_tokens: string;
  }>(
    `SELECT node_type, model, match, count(*) AS hits, sum(saved_ms) AS saved_ms,
            coalesce(sum(prompt_tokens), 0) AS prompt_tokens, coalesce(sum(completion_tokens), 0) AS completion_tokens
       FROM cache_hits
      WHERE workspace_id = $1 AND hit_at >= $2 AND hit_at <= $3
      GROUP BY node_type, model, match`,
    [workspaceId, since, until],
  );
  return rows.map((row) => ({
    nodeType: row.node_type,
    model: row.model,
    match: row.match,
    hits: Number(row.hits),
    savedMs: Number(row.saved_ms),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
  }));
}
