-- NOTIFY takes a cluster-wide lock at commit, so every outbox writer that notifies commits one at a time. A writer
-- that commits at a high rate (the API's group-committed patches) sets `outbox.notify = off` for its transaction and
-- sends one coalesced NOTIFY after committing instead; every other writer keeps the trigger's wake-up.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('outbox.notify', true), '') <> 'off' THEN
    PERFORM pg_notify('outbox_new', '');
  END IF;
  RETURN NULL;
END $$;
