/**
 * Retention deletes, one bounded batch per statement ($1 = age in ms, $2 = batch size): a large backlog is worked off
 * in many short transactions instead of one that holds locks and bloats the WAL. SKIP LOCKED leaves rows another
 * transaction is using (a retried POST reading its key, a worker refreshing a blob) for the next pass.
 */

/** Idempotency keys older than their time to live: a POST retried after that is a new request. */
export const DELETE_EXPIRED_IDEMPOTENCY_KEYS = `
DELETE FROM idempotency_keys
 WHERE (workspace_id, scope, key) IN (
   SELECT workspace_id, scope, key FROM idempotency_keys
    WHERE created_at < now() - make_interval(secs => $1 / 1000.0)
    ORDER BY created_at
    LIMIT $2
      FOR UPDATE SKIP LOCKED)`;

/**
 * Content blobs nothing in Postgres refers to, last stored before the grace period. Their Postgres chunks go with them
 * (ON DELETE CASCADE); S3 objects are deleted after the rows, by the collect-content-objects job (BlobBackend
 * .collectOrphans), so that no row is ever left without its bytes. Runs name blobs in their node state
 * (`nodes.<id>.outputRef`) and in `content_refs`, what their latest run.state record carries by reference (input,
 * state, effects), which the coordinator restores the run from however long it waits; outbox rows and dead letters
 * name the run inputs their run.requested events carry by reference, however long they wait to be published or
 * redriven. A blob stored for a run the projector has not written yet is younger than the grace period, and storing
 * existing content again refreshes `last_put_at` (ContentStore.put), so a new reference to an old blob protects it too.
 * 1. referenced: every blob some run names (one scan of runs per batch), and every digest an outbox row or dead letter
 *    mentions, found in the encoded bytes: a digest that is merely tenant text there keeps a blob longer, never loses
 *    one (the outbox is short; dead letters are few).
 * 2. the oldest unreferenced blobs past the grace period, locked, deleted, except in a workspace with a run whose
 *    record's references are unknown (projected before `content_refs` existed, migration 0012) and that may still be
 *    restored: unfinished, or finished within a day (the most RUN_FINISHED_RETENTION_MS keeps a finished run's record).
 */
export const DELETE_UNREFERENCED_BLOBS = `
WITH referenced AS (
  SELECT substr(n.value ->> 'outputRef', 8) AS sha256
    FROM runs r CROSS JOIN LATERAL jsonb_each(r.nodes) n
   WHERE n.value ->> 'outputRef' LIKE 'sha256:%'
  UNION
  SELECT substr(ref, 8) FROM runs r CROSS JOIN LATERAL unnest(r.content_refs) ref
  UNION
  SELECT m[1]
    FROM (SELECT payload FROM outbox UNION ALL SELECT payload FROM outbox_dead_letters) p
   CROSS JOIN LATERAL regexp_matches(encode(p.payload, 'escape'), 'sha256:([0-9a-f]{64})', 'g') m
)
DELETE FROM cas_blobs
 WHERE (workspace_id, sha256) IN (
   SELECT b.workspace_id, b.sha256 FROM cas_blobs b
    WHERE b.last_put_at < now() - make_interval(secs => $1 / 1000.0)
      AND NOT EXISTS (SELECT 1 FROM referenced r WHERE r.sha256 = b.sha256)
      AND NOT EXISTS (
        SELECT 1 FROM runs u
         WHERE u.content_refs IS NULL AND u.workspace_id = b.workspace_id
           AND (u.finished_at IS NULL OR u.finished_at > now() - interval '1 day'))
    ORDER BY b.last_put_at
    LIMIT $2
      FOR UPDATE OF b SKIP LOCKED)`;

/**
 * Blobs stored before blobs belonged to a workspace, once the grace period has passed since the upgrade kept them
 * (migrations 0010 and 0011). The upgrade copied each blob a Postgres row references into that row's workspace; the
 * old rows wait for the references only Kafka holds, which are copied when read (ContentStore.adopt): the changelog
 * when the coordinators restore their partitions after the upgrade, tasks, completions and requests when consumed.
 * A dead-letter topic's message redriven later than this finds its content gone.
 */
export const DELETE_EXPIRED_LEGACY_BLOBS = `
DELETE FROM cas_blobs_legacy
 WHERE sha256 IN (
   SELECT sha256 FROM cas_blobs_legacy
    WHERE kept_since < now() - make_interval(secs => $1 / 1000.0)
    ORDER BY kept_since
    LIMIT $2
      FOR UPDATE SKIP LOCKED)`;

/** Runs finished before the retention period; their events, timers and approvals go with them (ON DELETE CASCADE). */
export const DELETE_FINISHED_RUNS = `
DELETE FROM runs
 WHERE id IN (
   SELECT id FROM runs
    WHERE finished_at < now() - make_interval(secs => $1 / 1000.0)
    ORDER BY finished_at
    LIMIT $2
      FOR UPDATE SKIP LOCKED)`;

/** Makes sure a job has its row; a new job is due at once. */
export const REGISTER_JOB = `INSERT INTO maintenance_jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`;

/**
 * Claims a due job ($1 name, $2 interval in ms) by moving its next run on: of several processes asking at once,
 * exactly one gets the row back (the others skip the locked row, or find it no longer due).
 */
export const CLAIM_DUE_JOB = `
UPDATE maintenance_jobs j
   SET next_run_at = now() + make_interval(secs => $2 / 1000.0), last_started_at = now()
  FROM (SELECT name FROM maintenance_jobs WHERE name = $1 AND next_run_at <= now() FOR UPDATE SKIP LOCKED) due
 WHERE j.name = due.name
RETURNING j.name`;

export const RECORD_JOB_OUTCOME = `
UPDATE maintenance_jobs SET last_finished_at = now(), last_deleted = $2, last_error = $3 WHERE name = $1`;
