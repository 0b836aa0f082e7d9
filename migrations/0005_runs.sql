-- Runs: the coordinator's state per run, its durable timers, its event history (SSE replay), human approvals, and
-- content-addressed storage for large node outputs.

CREATE TABLE runs (
  id               uuid PRIMARY KEY,
  workspace_id     uuid        NOT NULL REFERENCES workspaces (id),
  workflow_id      uuid        NOT NULL REFERENCES workflows (id),
  workflow_version integer     NOT NULL,
  status           text        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out')),
  input            jsonb       NOT NULL,
  tag              text,
  -- Per-node state ({<nodeId>: {status, attempts, output?, outputRef?, error?}}), written by the run's coordinator.
  nodes            jsonb       NOT NULL DEFAULT '{}',
  -- Edge decisions ({<edge index>: satisfied?}), so a condition is evaluated once per run.
  edges            jsonb       NOT NULL DEFAULT '{}',
  output           jsonb,
  error            text,
  -- Last run.events sequence number; run events are numbered 1, 2, 3... per run.
  event_seq        bigint      NOT NULL DEFAULT 0,
  -- Optimistic concurrency: every coordinator write checks and bumps it, so two owners of one run cannot both win.
  version          integer     NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX runs_workflow ON runs (workflow_id, created_at);
-- Stalled-run detection and operators' "what is still going" look only at unfinished runs.
CREATE INDEX runs_unfinished ON runs (created_at) WHERE finished_at IS NULL;

-- Retry backoff, node and run timeouts, and delay nodes. A due timer is turned into a run.control event (keyed by run
-- id, so it reaches the run's owner) and deleted in one transaction: it fires at least once, after any restart.
CREATE TABLE run_timers (
  run_id       uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  timer_key    text        NOT NULL,
  kind         text        NOT NULL CHECK (kind IN ('retry', 'node_timeout', 'run_timeout', 'delay')),
  node_id      text,
  attempt      integer,
  workspace_id uuid        NOT NULL,
  fire_at      timestamptz NOT NULL,
  PRIMARY KEY (run_id, timer_key)
);
CREATE INDEX run_timers_due ON run_timers (fire_at);

-- Every run.events event, numbered per run: SSE clients resume from here with Last-Event-ID.
CREATE TABLE run_events (
  run_id       uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq          bigint      NOT NULL,
  workflow_id  uuid        NOT NULL,
  workspace_id uuid        NOT NULL,
  kind         text        NOT NULL,
  status       text        NOT NULL,
  node_id      text,
  detail       jsonb,
  occurred_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);

-- Open and decided human approvals; a decision is taken once (UPDATE ... WHERE status = 'pending').
CREATE TABLE approvals (
  run_id       uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  node_id      text        NOT NULL,
  attempt      integer     NOT NULL,
  workspace_id uuid        NOT NULL,
  prompt       text        NOT NULL,
  status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  comment      text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  decided_at   timestamptz,
  PRIMARY KEY (run_id, node_id, attempt)
);

-- Content-addressed storage: large node outputs are stored once by their sha256; events carry the reference.
CREATE TABLE cas_blobs (
  sha256       text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes   integer     NOT NULL,
  content_type text        NOT NULL,
  content      bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
