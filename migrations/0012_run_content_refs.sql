-- The content references of each run's latest run.state record (its input, state and effects when they travel by
-- reference), written by the run projector: the coordinator restores a run from that record however long the run has
-- been waiting, so the blob collector keeps what it names (libs/retention). Runs projected before this column existed
-- have NULL, unknown: the collector keeps every blob of their workspace until they are projected again or finished
-- long enough ago that their record is no longer restored.
ALTER TABLE runs ADD COLUMN content_refs text[];
ALTER TABLE runs ALTER COLUMN content_refs SET DEFAULT '{}';
CREATE INDEX runs_unknown_content_refs ON runs (workspace_id) WHERE content_refs IS NULL;
