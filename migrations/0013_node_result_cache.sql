-- The node result cache. A run remembers the permission of the key that started it: cached results are kept and
-- served per permission, and a coordinator that takes a run up from this table needs it. Null for runs started before
-- it was recorded; their nodes bypass the cache.
ALTER TABLE runs ADD COLUMN permission text CHECK (permission IN ('read', 'write', 'admin'));

-- The audit trail: every node attempt whose output came from the cache, with the run, node and time that produced it.
-- Written by the run projector; read per workspace (GET /v1/cache/hits). The producing run is not a foreign key: it
-- may be deleted by retention while the runs it served are kept.
CREATE TABLE cache_hits (
  run_id       uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  node_id      text        NOT NULL,
  attempt      integer     NOT NULL,
  workspace_id uuid        NOT NULL,
  node_type    text        NOT NULL,
  from_run_id  uuid        NOT NULL,
  from_node_id text        NOT NULL,
  produced_at  timestamptz NOT NULL,
  -- How long the producing attempt took: the time this hit saved.
  saved_ms     bigint      NOT NULL,
  hit_at       timestamptz NOT NULL,
  PRIMARY KEY (run_id, node_id, attempt)
);
CREATE INDEX cache_hits_by_workspace ON cache_hits (workspace_id, hit_at DESC);
CREATE INDEX cache_hits_by_source ON cache_hits (workspace_id, from_run_id);
