-- The transactional outbox: every write that other services must hear about inserts a row here in the same
-- transaction; the outbox relay publishes rows to Kafka in id order per message key and then deletes them.
CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  topic         text        NOT NULL,
  message_key   text        NOT NULL,
  event_type    text        NOT NULL,
  payload       jsonb       NOT NULL,
  headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Relays claim the oldest rows first; per-key order needs the rows of one key in id order.
CREATE INDEX outbox_key_order ON outbox (message_key, id);

-- Relays sleep on LISTEN outbox_new and poll only as a fallback.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_new', '');
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
