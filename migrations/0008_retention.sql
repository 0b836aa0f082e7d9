-- Retention: periodic jobs that expire idempotency keys, collect unreferenced content blobs and prune finished runs.

-- When a blob was last stored. Storing existing content again refreshes it (at most hourly), so the collector's grace
-- period runs from the newest reference a writer made, not from the blob's first write.
ALTER TABLE cas_blobs ADD COLUMN last_put_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX cas_blobs_last_put ON cas_blobs (last_put_at);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

-- One row per periodic job: whichever process claims a due row (SKIP LOCKED, moving next_run_at on) runs the job
-- once for every process that shares the database.
CREATE TABLE maintenance_jobs (
  name             text PRIMARY KEY,
  next_run_at      timestamptz NOT NULL DEFAULT now(),
  last_started_at  timestamptz,
  last_finished_at timestamptz,
  last_deleted     bigint,
  last_error       text
);
