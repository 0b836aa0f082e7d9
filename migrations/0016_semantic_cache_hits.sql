-- How a cache hit matched: `exact` (the node result cache: same config and inputs) or `semantic` (an agent node's
-- prompt close enough to the producing one's), and for a semantic match the cosine similarity of the two prompts.
-- Hits recorded before these columns were exact.
ALTER TABLE cache_hits
  ADD COLUMN match      text NOT NULL DEFAULT 'exact' CHECK (match IN ('exact', 'semantic')),
  ADD COLUMN similarity double precision;
