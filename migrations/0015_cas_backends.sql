-- Content-addressed storage with its bytes behind a backend (libs/cas): cas_blobs keeps every blob's metadata in
-- Postgres whatever holds the bytes, so references, workspace scoping and the blob collector stay plain SQL.
--
-- Rows written before this migration keep their bytes inline and uncompressed (`content`, compression 'none',
-- backend 'postgres'): they stay readable as they are, and nothing is rewritten here.
--
-- New rows, by backend:
-- * postgres: the bytes, compressed when that pays (`compression`), inline in `content` up to 1 MiB, else in
--   cas_blob_chunks (1 MiB each, in `seq` order) with `content` NULL. Chunks go with their row (ON DELETE CASCADE).
-- * s3: `content` NULL; the object is `<CAS_S3_PREFIX>/<workspace_id>/<sha256>` in CAS_S3_BUCKET. Every object this
--   platform uploads is listed in cas_s3_objects before its upload starts: an object whose cas_blobs row never
--   committed (a rolled-back transaction, a crash) or whose row the collector deleted is found there and deleted once
--   older than the grace period (libs/retention, job collect-content-objects).
ALTER TABLE cas_blobs ADD COLUMN backend text NOT NULL DEFAULT 'postgres' CHECK (backend IN ('postgres', 's3'));
ALTER TABLE cas_blobs ADD COLUMN compression text NOT NULL DEFAULT 'none' CHECK (compression IN ('none', 'zstd'));
-- Bytes as stored (after compression); NULL for rows from before this migration, which store `size_bytes`.
ALTER TABLE cas_blobs ADD COLUMN stored_bytes bigint;
ALTER TABLE cas_blobs ALTER COLUMN content DROP NOT NULL;
-- Compressed (or incompressible) bytes: TOAST's own pglz compression would only spend CPU on them.
ALTER TABLE cas_blobs ALTER COLUMN content SET STORAGE EXTERNAL;
ALTER TABLE cas_blobs ADD CONSTRAINT cas_blobs_s3_bytes_elsewhere CHECK (backend = 'postgres' OR content IS NULL);

CREATE TABLE cas_blob_chunks (
  workspace_id uuid    NOT NULL,
  sha256       text    NOT NULL,
  seq          integer NOT NULL CHECK (seq >= 0),
  data         bytea   NOT NULL,
  PRIMARY KEY (workspace_id, sha256, seq),
  FOREIGN KEY (workspace_id, sha256) REFERENCES cas_blobs (workspace_id, sha256) ON DELETE CASCADE
);
ALTER TABLE cas_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE cas_s3_objects (
  workspace_id uuid        NOT NULL,
  sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  -- The latest upload's start: the sweep leaves an object alone while an upload of it may still be in flight.
  written_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, sha256)
);
CREATE INDEX cas_s3_objects_written_at ON cas_s3_objects (written_at);
