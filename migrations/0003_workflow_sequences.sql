-- Patch writers reserve sequence numbers here; the materializer moves the version head in `workflows`. On separate
-- rows the two no longer wait on each other's row locks (measured: patch POSTs queued behind materializer
-- transactions holding the workflow row for the length of a fold).
CREATE TABLE workflow_sequences (
  workflow_id  uuid   PRIMARY KEY REFERENCES workflows (id),
  workspace_id uuid   NOT NULL,
  next_seq     bigint NOT NULL DEFAULT 1
);

INSERT INTO workflow_sequences (workflow_id, workspace_id, next_seq)
SELECT id, workspace_id, next_seq FROM workflows;

ALTER TABLE workflows DROP COLUMN next_seq;
