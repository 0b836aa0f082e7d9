-- What a cached agent answer did not spend: the model and token counts its producing attempt recorded. The API prices
-- them at read time (CACHE_TOKEN_PRICES), so a price change re-prices the past. Null for other node types, for answers
-- without usage and for hits recorded before these columns.
ALTER TABLE cache_hits
  ADD COLUMN model             text,
  ADD COLUMN prompt_tokens     bigint,
  ADD COLUMN completion_tokens bigint;
