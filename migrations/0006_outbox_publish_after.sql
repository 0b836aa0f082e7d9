-- Rows whose writer publishes them itself right after its commit (the API's run starts and patches) carry the time
-- from which the relays may take them: the relays are the fallback for a writer that died before publishing, and
-- leave such rows alone until then. NULL: the relays publish the row as soon as they see it.
ALTER TABLE outbox ADD COLUMN publish_after timestamptz;
