-- Content-addressed blobs belong to a workspace: a reference resolves only within the workspace whose run stored it,
-- so one tenant cannot read another's outputs by naming their digest. The same content stored by two workspaces is two
-- rows. Blobs written before are kept for every workspace whose runs reference them; the rest were unreachable anyway.
ALTER TABLE cas_blobs RENAME TO cas_blobs_unscoped;

CREATE TABLE cas_blobs (
  workspace_id uuid        NOT NULL REFERENCES workspaces (id),
  sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes   integer     NOT NULL,
  content_type text        NOT NULL,
  content      bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_put_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, sha256)
);

INSERT INTO cas_blobs (workspace_id, sha256, size_bytes, content_type, content, created_at, last_put_at)
SELECT DISTINCT ON (r.workspace_id, b.sha256) r.workspace_id, b.sha256, b.size_bytes, b.content_type, b.content, b.created_at,
       b.last_put_at
  FROM cas_blobs_unscoped b
  JOIN runs r ON EXISTS (
    SELECT 1 FROM jsonb_each(r.nodes) n
     WHERE jsonb_typeof(n.value) = 'object' AND n.value ->> 'outputRef' = 'sha256:' || b.sha256
  );

DROP TABLE cas_blobs_unscoped;
CREATE INDEX cas_blobs_last_put ON cas_blobs (last_put_at);
