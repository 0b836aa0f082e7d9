import pgvector from 'pgvector/pg';
import type { Pool } from '#libs/db';

/** What an answer in the semantic cache is pinned to exactly: only its prompt may differ, by similarity. */
export interface SemanticScope {
  readonly workspaceId: string;
  /** The permission of the run that produced it: served only to runs of the same permission. */
  readonly permission: string;
  /** sha256 of what else decides the answer (semanticScope). */
  readonly scope: string;
}

/** The nearest cached answer to a prompt's embedding. */
export interface SemanticNeighbour {
  readonly id: string;
  readonly output: unknown;
  readonly runId: string;
  readonly nodeId: string;
  /** epoch ms */
  readonly producedAt: number;
  readonly durationMs: number;
  /** cosine similarity, 1 for the same direction */
  readonly similarity: number;
}

export interface SemanticWrite {
  readonly embedding: number[];
  /** The answer's JSON text, as checked for size and sensitive data. */
  readonly outputJson: string;
  readonly runId: string;
  readonly nodeId: string;
  readonly producedAt: number;
  readonly durationMs: number;
  readonly ttlMs: number;
}

/**
 * The start-up options of the semantic cache's connections. pgvector 0.8 and later: an HNSW scan filtered by scope
 * goes on past its first candidates (`hnsw.ef_search`, 40) until it finds one of the scope, nearest first; without it a
 * scope with few entries among many others' would find none. Older pgvector warns and scans as before.
 */
export const SEMANTIC_SESSION_OPTIONS = '-c hnsw.iterative_scan=strict_order';

/**
 * The semantic cache's SQL (migrations/vector). Every statement is one autocommit statement, scoped to one workspace
 * where it reads or writes entries, and holds no session state: PGlite serves all its connections from one session,
 * whose transactions and settings they would share.
 *
 * Embeddings of one length only are compared (`dimensions`), through the HNSW index of that length: the column takes
 * any length, an index one.
 */
export class SemanticCacheStore {
  private readonly vector: string;

  constructor(
    private readonly pool: Pool,
    /** EMBEDDINGS_DIMENSIONS: the length of every embedding written and looked up. */
    private readonly dimensions: number,
  ) {
    if (!Number.isInteger(dimensions) || dimensions < 1) throw new Error(`not a vector length: ${dimensions}`);
    // An integer from config, so spelling it into the SQL is safe; the index needs it as a type modifier anyway.
    this.vector = `vector(${dimensions})`;
  }

  /** Creates the HNSW index for this length unless it exists (the migration creates the one for 1536). */
  async ensureIndex(): Promise<void> {
    const d = this.dimensions;
    await this.pool.query(
      `CREATE INDEX IF NOT EXISTS semantic_cache_entries_hnsw_${d} ON semantic_cache_entries
         USING hnsw ((embedding::${this.vector}) vector_cosine_ops) WHERE dimensions = ${d}`,
    );
  }

  /**
   * The unexpired entry of the scope nearest to the embedding, or null when the scope has none. An entry at least
   * `hitAt` similar is served, so its hit is counted by the same statement: no round trip of its own on the hit path.
   */
  async nearest(scope: SemanticScope, embedding: number[], hitAt: number): Promise<SemanticNeighbour | null> {
    const { rows } = await this.pool.query<{
      id: string;
      output: unknown;
      run_id: string;
      node_id: string;
      produced_at: Date;
      duration_ms: string;
      distance: number;
    }>(
      `WITH nearest AS (
         SELECT id, output, run_id, node_id, produced_at, duration_ms, embedding::${this.vector} <=> $4 AS distance
           FROM semantic_cache_entries
          WHERE workspace_id = $1 AND permission = $2 AND scope = $3 AND dimensions = ${this.dimensions}
            AND expires_at > now()
          ORDER BY embedding::${this.vector} <=> $4
          LIMIT 1
       ), counted AS (
         UPDATE semantic_cache_entries e SET hits = e.hits + 1, last_hit_at = now()
           FROM nearest n
          WHERE e.id = n.id AND 1 - n.distance >= $5
       )
       SELECT * FROM nearest`,
      [scope.workspaceId, scope.permission, scope.scope, pgvector.toSql(embedding), hitAt],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      output: row.output,
      runId: row.run_id,
      nodeId: row.node_id,
      producedAt: row.produced_at.getTime(),
      durationMs: Number(row.duration_ms),
      // Cosine distance is 1 - cosine similarity.
      similarity: 1 - Number(row.distance),
    };
  }

  async insert(scope: SemanticScope, entry: SemanticWrite): Promise<void> {
    await this.pool.query(
      `INSERT INTO semantic_cache_entries (workspace_id, permission, scope, embedding, dimensions, output, run_id,
                                           node_id, produced_at, duration_ms, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, to_timestamp($9 / 1000.0), $10,
               now() + $11 * interval '1 millisecond')`,
      [
        scope.workspaceId,
        scope.permission,
        scope.scope,
        pgvector.toSql(entry.embedding),
        this.dimensions,
        entry.outputJson,
        entry.runId,
        entry.nodeId,
        entry.producedAt,
        entry.durationMs,
        entry.ttlMs,
      ],
    );
  }

  /** Deletes at most `limit` expired entries; returns how many. */
  async deleteExpired(limit: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM semantic_cache_entries
        WHERE id IN (SELECT id FROM semantic_cache_entries WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    );
    return rowCount ?? 0;
  }

  /** Deletes every entry of the workspace (an operator's purge); returns how many. */
  async purgeWorkspace(workspaceId: string): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM semantic_cache_entries WHERE workspace_id = $1', [
      workspaceId,
    ]);
    return rowCount ?? 0;
  }
}
