-- supersedes-checksum: d59738a65f4e306a3e69dc16a9ecf6b69c9b31000489dccfd16bbe05546eed3f
-- (That first text dropped the old blobs at its end, after copying only those that node outputs in the runs
-- projection reference: the inputs, states, effects and tasks that outbox rows and Kafka records reference by
-- content were lost with them. A database that applied it keeps it; 0011 works on either.)

-- Content-addressed blobs belong to a workspace: a reference resolves only within the workspace whose run stored it,
-- so one tenant cannot read another's outputs by naming their digest. The same content stored by two workspaces is two
-- rows. Blobs written before are copied for every workspace whose runs reference them, and kept as they were in
-- cas_blobs_legacy for the references this migration cannot see (0011).
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

DROP INDEX cas_blobs_last_put;
ALTER TABLE cas_blobs_unscoped RENAME TO cas_blobs_legacy;
CREATE INDEX cas_blobs_last_put ON cas_blobs (last_put_at);
