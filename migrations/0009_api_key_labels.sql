-- A name for an API key (a person, a team, a service), chosen by the admin who creates it. hitl nodes name their
-- approvers by key id or by this label.
ALTER TABLE api_keys ADD COLUMN label text CHECK (label IS NULL OR length(label) BETWEEN 1 AND 100);
