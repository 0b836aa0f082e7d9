-- Keyset pagination of the list endpoints, newest first: a page is an index range scan at any depth.
CREATE INDEX runs_workspace_recent ON runs (workspace_id, created_at DESC, id DESC);
CREATE INDEX workflows_workspace_recent ON workflows (workspace_id, created_at DESC, id DESC);
