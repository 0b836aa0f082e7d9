-- Tenancy, workflow definitions as versions folded from patches, idempotent POSTs, and the outbox in its final shape.

CREATE TABLE workspaces (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text        NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys are stored as sha256 digests; the key itself is shown once, at creation.
CREATE TABLE api_keys (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id  uuid        NOT NULL REFERENCES workspaces (id),
  permission    text        NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
  key_hash      bytea       NOT NULL UNIQUE,
  key_prefix    text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);

CREATE TABLE workflows (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id        uuid        NOT NULL REFERENCES workspaces (id),
  name                text        NOT NULL,
  -- The next patch sequence number; the row lock taken to bump it orders concurrent patches of one workflow.
  next_seq            bigint      NOT NULL DEFAULT 1,
  latest_version      integer     NOT NULL DEFAULT 1,
  -- Every patch with seq <= this has been decided (applied or rejected).
  applied_through_seq bigint      NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflows_workspace ON workflows (workspace_id);

-- Each version is a full snapshot: reading one never replays patches, however many there were.
CREATE TABLE workflow_versions (
  workflow_id         uuid        NOT NULL REFERENCES workflows (id),
  version             integer     NOT NULL,
  definition          jsonb       NOT NULL,
  applied_through_seq bigint      NOT NULL,
  patch_count         integer     NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, version)
);

CREATE TABLE patches (
  id          uuid PRIMARY KEY,
  workflow_id uuid        NOT NULL REFERENCES workflows (id),
  seq         bigint      NOT NULL,
  ops         jsonb       NOT NULL,
  status      text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'rejected')),
  version     integer,
  reason      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  decided_at  timestamptz,
  UNIQUE (workflow_id, seq)
);
-- The materializer reads what is still pending per workflow, in order.
CREATE INDEX patches_pending ON patches (workflow_id, seq) WHERE status = 'pending';

-- A retried POST with the same Idempotency-Key gets the first answer (scoped per workspace and route).
CREATE TABLE idempotency_keys (
  workspace_id    uuid        NOT NULL REFERENCES workspaces (id),
  scope           text        NOT NULL,
  key             text        NOT NULL,
  request_hash    text        NOT NULL,
  response_status integer     NOT NULL,
  response_body   jsonb       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, scope, key)
);

-- The outbox carries events already encoded in the Confluent wire format, so the relay only moves bytes.
-- `shard` spreads keys over a fixed number of lanes; a relay owns whole lanes, which keeps per-key order with
-- several relays running.
ALTER TABLE outbox DROP COLUMN payload;
ALTER TABLE outbox ADD COLUMN payload bytea NOT NULL;
ALTER TABLE outbox ADD COLUMN shard smallint NOT NULL GENERATED ALWAYS AS ((hashtext(message_key) & 63)::smallint) STORED;
CREATE INDEX outbox_shard_order ON outbox (shard, id);
DROP INDEX outbox_key_order;

-- Relays announce themselves here so that each can take its fair share of the 64 lanes.
CREATE TABLE outbox_relays (
  relay_id   text PRIMARY KEY,
  last_seen  timestamptz NOT NULL DEFAULT now()
);
