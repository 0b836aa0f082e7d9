-- Completes 0010 on a live database: every reference to a blob stored before blobs belonged to a workspace resolves in
-- the workspace that holds the reference, and in no other. Safe on a database that applied either text of 0010.
--
-- References kept in Postgres get a copy of their blob here, in the workspace of the run they belong to:
-- 1. node outputs in the runs projection (`runs.nodes.<id>.outputRef`; 0010 copied these already);
-- 2. spilled run inputs of run.requested events waiting in the outbox or in outbox_dead_letters (`inputRef`, read
--    from the Avro payload field by field, below). A redriven dead letter or a late relay finds its input.
-- Only fields the system writes are read. A digest that tenant data merely mentions (an inline output shaped like
-- `{"$ref": …}`, which is also what `runs.output` shows for large outputs, a run input, a tag) gets nobody a copy.
--
-- References kept only in Kafka cannot be read from here: the run.state changelog (input, state and effects by
-- reference, node outputRefs in the state), tasks and completions in flight, dead-letter topics. The old rows stay in
-- cas_blobs_legacy, and ContentStore copies one into a workspace when a record of that workspace names it in such a
-- field (see ContentStore.adopt). The blob collector deletes the old rows CAS_GC_GRACE_MS after this migration
-- (`kept_since`). A database that applied the first text of 0010 has no old rows left: the table is created empty.
CREATE TABLE IF NOT EXISTS cas_blobs_legacy (
  sha256       text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes   integer     NOT NULL,
  content_type text        NOT NULL,
  content      bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_put_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE cas_blobs_legacy ADD COLUMN IF NOT EXISTS kept_since timestamptz NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS cas_blobs_legacy_kept_since ON cas_blobs_legacy (kept_since);

-- An Avro int or long at byte `o` (0-based): a zigzag varint. `next` is the byte after it; NULL past the end.
CREATE FUNCTION cas_upgrade_varint(payload bytea, o integer, OUT value bigint, OUT next integer)
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  b integer;
  shift integer := 0;
BEGIN
  value := 0;
  next := o;
  LOOP
    IF next >= length(payload) OR shift > 63 THEN
      value := NULL;
      next := NULL;
      RETURN;
    END IF;
    b := get_byte(payload, next);
    next := next + 1;
    value := value | ((b & 127)::bigint << shift);
    EXIT WHEN b < 128;
    shift := shift + 7;
  END LOOP;
  value := (value >> 1) # -(value & 1);
END $$;

-- The workspace and input reference of a run.requested outbox payload (Confluent wire format: magic byte 0, schema id,
-- then the Avro record), read in the field order of schemas/run-requested.avsc: eventId, type (strings), seq,
-- occurredAt (longs), workspaceId, runId, workflowId (strings), workflowVersion (int), inputJson (string), tag and
-- inputRef (both null or string). Payloads written before inputRef existed end after the tag. Anything else, or a
-- malformed payload, gives no reference.
CREATE FUNCTION cas_upgrade_run_requested_ref(payload bytea, OUT workspace_id text, OUT input_ref text)
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  o integer := 5;
  field integer;
  v bigint;
  text_of_field text;
BEGIN
  IF length(payload) < 5 OR get_byte(payload, 0) <> 0 THEN
    RETURN;
  END IF;
  FOR field IN 1..11 LOOP
    EXIT WHEN o >= length(payload);
    SELECT x.value, x.next INTO v, o FROM cas_upgrade_varint(payload, o) x;
    IF o IS NULL THEN
      RETURN;
    END IF;
    IF field IN (10, 11) THEN
      -- A union: v is its branch, null (0) or string (1, whose length follows).
      IF v = 0 THEN
        CONTINUE;
      ELSIF v <> 1 THEN
        RETURN;
      END IF;
      SELECT x.value, x.next INTO v, o FROM cas_upgrade_varint(payload, o) x;
      IF o IS NULL THEN
        RETURN;
      END IF;
    END IF;
    CONTINUE WHEN field IN (3, 4, 8);
    -- A string of v bytes.
    IF v < 0 OR o + v > length(payload) THEN
      RETURN;
    END IF;
    -- 'escape' never fails on bytes that are not UTF-8; the fields read here are ASCII when well formed.
    text_of_field := encode(substring(payload FROM o + 1 FOR v::integer), 'escape');
    IF field = 5 THEN
      workspace_id := text_of_field;
    ELSIF field = 11 AND text_of_field ~ '^sha256:[0-9a-f]{64}$' THEN
      input_ref := text_of_field;
    END IF;
    o := o + v::integer;
  END LOOP;
END $$;

INSERT INTO cas_blobs (workspace_id, sha256, size_bytes, content_type, content, created_at)
SELECT ref.workspace_id, l.sha256, l.size_bytes, l.content_type, l.content, l.created_at
  FROM (
    SELECT r.workspace_id, substr(n.value ->> 'outputRef', 8) AS sha256
      FROM runs r CROSS JOIN LATERAL jsonb_each(r.nodes) n
     WHERE jsonb_typeof(n.value) = 'object' AND n.value ->> 'outputRef' LIKE 'sha256:%'
    UNION
    -- The run the event is keyed by, when the event names that run's workspace too.
    SELECT r.workspace_id, substr(e.input_ref, 8)
      FROM (SELECT message_key, payload FROM outbox WHERE event_type = 'run.requested'
            UNION ALL
            SELECT message_key, payload FROM outbox_dead_letters WHERE event_type = 'run.requested') o
     CROSS JOIN LATERAL cas_upgrade_run_requested_ref(o.payload) e
      JOIN runs r ON r.id::text = o.message_key AND r.workspace_id::text = e.workspace_id
     WHERE e.input_ref IS NOT NULL
  ) ref
  JOIN cas_blobs_legacy l ON l.sha256 = ref.sha256
    ON CONFLICT (workspace_id, sha256) DO NOTHING;

DROP FUNCTION cas_upgrade_run_requested_ref(bytea);
DROP FUNCTION cas_upgrade_varint(bytea, integer);
