/**
 * The statements of content-addressed storage. Metadata lives in cas_blobs whatever holds the bytes (migration 0015);
 * `$1` is always the workspace and `$2` the sha256 hex digest.
 */

/**
 * A blob's row with its chunks (one row per chunk, in order; one row with a NULL chunk when it has none), in one
 * statement so that a collector deleting it between two reads cannot hand out a row without its chunks.
 */
export const READ_BLOB = `
SELECT b.content_type, b.size_bytes, b.backend, b.compression, b.content, c.data AS chunk
  FROM cas_blobs b
  LEFT JOIN cas_blob_chunks c ON c.workspace_id = b.workspace_id AND c.sha256 = b.sha256
 WHERE b.workspace_id = $1 AND b.sha256 = $2
 ORDER BY c.seq`;

/**
 * Stores a blob in Postgres unless the workspace holds it ($5 the bytes when inline, else NULL and $8 the chunks), in
 * one statement: a row is never seen without all its chunks, with a pool or inside the caller's transaction. Storing
 * existing content writes no bytes; it refreshes `last_put_at` when older than an hour (see ContentStore.put).
 */
export const PUT_POSTGRES_BLOB = `
WITH blob AS (
  INSERT INTO cas_blobs (workspace_id, sha256, size_bytes, content_type, compression, stored_bytes, content, backend)
  VALUES ($1, $2, $3, $4, $6, $7, $5, 'postgres')
  ON CONFLICT (workspace_id, sha256) DO UPDATE SET last_put_at = now()
   WHERE cas_blobs.last_put_at < now() - interval '1 hour'
  RETURNING xmax = 0 AS inserted
)
INSERT INTO cas_blob_chunks (workspace_id, sha256, seq, data)
SELECT $1, $2, c.seq - 1, c.data FROM blob, unnest($8::bytea[]) WITH ORDINALITY AS c (data, seq) WHERE blob.inserted`;

/**
 * Whether the workspace holds the blob, refreshing `last_put_at` when older than an hour, so that an upload is skipped
 * for content already stored. A row the collector may take (not refreshed for an hour) counts only if this statement
 * refreshed it: one deleted under it counts as absent, and is stored again.
 */
export const REFRESH_IF_PRESENT = `
WITH refreshed AS (
  UPDATE cas_blobs SET last_put_at = now()
   WHERE workspace_id = $1 AND sha256 = $2 AND last_put_at < now() - interval '1 hour'
  RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM refreshed)
    OR EXISTS (SELECT 1 FROM cas_blobs WHERE workspace_id = $1 AND sha256 = $2 AND last_put_at >= now() - interval '1 hour')
       AS present`;

/** The row of a blob whose object was just uploaded; after the upload, so that a committed row always has its bytes. */
export const INSERT_S3_BLOB_ROW = `
INSERT INTO cas_blobs (workspace_id, sha256, size_bytes, content_type, compression, stored_bytes, content, backend)
VALUES ($1, $2, $3, $4, $5, $6, NULL, 's3')
ON CONFLICT (workspace_id, sha256) DO UPDATE SET last_put_at = now()
 WHERE cas_blobs.last_put_at < now() - interval '1 hour'`;

/**
 * Lists an object before its upload starts (committed on its own, outside any caller's transaction). Waits while a
 * sweep holds the entry, so an upload never lands before a sweep's delete of the same key.
 */
export const RECORD_S3_UPLOAD = `
INSERT INTO cas_s3_objects (workspace_id, sha256) VALUES ($1, $2)
ON CONFLICT (workspace_id, sha256) DO UPDATE SET written_at = now()`;

/**
 * Objects with no blob row whose last upload started before the grace period ($1 ms; $2 at most): never committed
 * (a rolled-back transaction, a crash between upload and row) or collected (libs/retention deletes rows only). Locked
 * until the sweep's transaction ends, so a new upload of the same content waits for the delete (RECORD_S3_UPLOAD).
 */
export const CLAIM_ORPHAN_S3_OBJECTS = `
SELECT o.workspace_id, o.sha256 FROM cas_s3_objects o
 WHERE o.written_at < now() - make_interval(secs => $1 / 1000.0)
   AND NOT EXISTS (SELECT 1 FROM cas_blobs b WHERE b.workspace_id = o.workspace_id AND b.sha256 = o.sha256)
 ORDER BY o.written_at
 LIMIT $2
   FOR UPDATE OF o SKIP LOCKED`;

export const FORGET_S3_OBJECTS = `
DELETE FROM cas_s3_objects WHERE (workspace_id, sha256) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`;

/** Copies blobs stored before blobs belonged to a workspace into workspace $1 ($2 the digests); see ContentStore.adopt. */
export const ADOPT_LEGACY_BLOBS = `
INSERT INTO cas_blobs (workspace_id, sha256, size_bytes, content_type, content, created_at)
SELECT $1, sha256, size_bytes, content_type, content, created_at FROM cas_blobs_legacy
 WHERE sha256 = ANY($2::text[])
ON CONFLICT (workspace_id, sha256) DO NOTHING`;

export const LEGACY_BLOBS_LEFT = 'SELECT EXISTS (SELECT 1 FROM cas_blobs_legacy) AS left';
