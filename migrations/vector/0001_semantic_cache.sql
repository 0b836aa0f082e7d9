-- The semantic cache of agent nodes, in Postgres with pgvector (VECTOR_DATABASE_URL; locally PGlite, whose `vector`
-- extension is pgvector). An answer is served to a later prompt whose embedding is close enough (cosine similarity),
-- but only within what `scope` pins exactly: the workspace, the permission of the run that produced it, and a digest of
-- what else decides the answer (model, system prompt, temperature, maxTokens, embedding model).
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE semantic_cache_entries (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id uuid        NOT NULL,
  permission   text        NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
  scope        text        NOT NULL,
  -- Of any length: an index serves one length (below); EMBEDDINGS_DIMENSIONS picks it.
  embedding    vector      NOT NULL,
  dimensions   integer     NOT NULL CHECK (dimensions = vector_dims(embedding)),
  output       jsonb       NOT NULL,
  -- The attempt that produced the answer, and how long it took: what every hit saves.
  run_id       uuid        NOT NULL,
  node_id      text        NOT NULL,
  produced_at  timestamptz NOT NULL,
  duration_ms  bigint      NOT NULL,
  expires_at   timestamptz NOT NULL,
  hits         bigint      NOT NULL DEFAULT 0,
  last_hit_at  timestamptz
);

-- Approximate nearest neighbours by cosine distance, for the default length of EMBEDDINGS_DIMENSIONS. Another length
-- needs an index of its own, alike but for its length (the worker creates it at start-up when missing).
CREATE INDEX semantic_cache_entries_hnsw_1536 ON semantic_cache_entries
  USING hnsw ((embedding::vector(1536)) vector_cosine_ops) WHERE dimensions = 1536;
CREATE INDEX semantic_cache_entries_scope ON semantic_cache_entries (workspace_id, scope, permission);
CREATE INDEX semantic_cache_entries_expiry ON semantic_cache_entries (expires_at);
