-- Outbox rows the broker refused for good (too large for its message.max.bytes, an invalid record or topic name). The
-- relay moves such a row here in the transaction that deletes its published neighbours, so it never blocks its lane,
-- and keeps it whole, with why and when, until an operator redrives it (back into the outbox, behind what waits there)
-- or discards it. The id is the outbox row's.
CREATE TABLE outbox_dead_letters (
  id          bigint      PRIMARY KEY,
  topic       text        NOT NULL,
  message_key text        NOT NULL,
  event_type  text        NOT NULL,
  payload     bytea       NOT NULL,
  headers     jsonb       NOT NULL,
  created_at  timestamptz NOT NULL,
  error       text        NOT NULL,
  dead_at     timestamptz NOT NULL DEFAULT now(),
  -- The relay id, or "eager" for the API's own publish after its commit.
  dead_by     text        NOT NULL
);
