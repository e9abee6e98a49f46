-- 028_facts_search_confidence.sql
--
-- Facts search with a confidence bound inside the index, and conflict detection that cannot
-- miss a writer under REPEATABLE READ.
--
-- * facts_confidence_bands(confidence): the tenths a confidence reaches, {1 .. floor(10 × c)}
--   (1 → {1..10}, 0.93 → {1..9}, below 0.1 → {}). It becomes the fourth column of
--   idx_facts_text_search, so a search with minConfidence m ANDs the key floor(10 × m)
--   into the same GIN scan as its words, tags and metadata, and fetches only facts of that
--   tenth or above; the exact confidence >= m stays as a filter for the rest of the tenth.
--   Multiplying by 10 and taking the floor are monotonic, so c >= m implies
--   floor(10 × c) >= floor(10 × m): the index condition never drops a fact the filter keeps.
--   Before, minConfidence was a filter on fetched rows: with 0.9 (22 % of the bench's facts)
--   a search read ~4.5× as many rows to reach its 2,000 candidates (7,500 buffers instead of
--   2,000). On 1M facts (bench:facts, PostgreSQL 15, 2 cores, the search of before and of
--   now alternating on the same data) the server CPU of a minConfidence 0.9 search went from
--   p50 31.7 to 9.6 ms. The index is rebuilt once (about a minute at 1M facts) and grows by
--   the band keys (86 → 95 MB at 1M facts).
-- * fact_groups: one row per (predicate, subject) that facts_lock_group upserts after the
--   advisory lock of 019. Under READ COMMITTED nothing changes (the lock already serialises
--   writers and each trigger statement sees what committed before it). A REPEATABLE READ or
--   SERIALIZABLE writer keeps its first snapshot, so it could not see a fact another writer
--   of the group committed after that snapshot and missed the conflict; now the upsert meets
--   that writer's newer group row and PostgreSQL raises a serialization failure (SQLSTATE
--   40001), which such a client retries, as for any concurrent update.
-- * facts_search_serial(): true, and PARALLEL UNSAFE, so a statement that names it is never
--   planned with parallel workers (PostgreSQL checks the statement as written, before the call
--   is folded away). Capped facts search names it instead of running in a transaction with
--   SET LOCAL max_parallel_workers_per_gather = 0: one round trip instead of four (under
--   load average ~8 on 2 cores, wall p50 21.7 -> 15.8 ms at 1M facts).
--
-- Idempotent: CREATE OR REPLACE FUNCTION, CREATE TABLE IF NOT EXISTS, and
-- seedcore_ensure_index (026) builds the index only when its definition differs.

BEGIN;

CREATE OR REPLACE FUNCTION facts_confidence_bands(p_confidence double precision)
RETURNS integer[]
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT ARRAY(SELECT generate_series(1, floor(p_confidence * 10)::int));
$$;
COMMENT ON FUNCTION facts_confidence_bands(double precision) IS
  'The confidence tenths a fact reaches, {1 .. floor(10 * confidence)} (028): the fourth column of idx_facts_text_search, matched with facts_confidence_bands(confidence) @> ARRAY[floor(10 * m)] for confidence >= m.';

SELECT seedcore_ensure_index('idx_facts_text_search',
  'CREATE INDEX idx_facts_text_search ON facts USING gin (search_vector, tags, meta_data jsonb_path_ops, facts_confidence_bands(confidence))');
COMMENT ON INDEX idx_facts_text_search IS
  'Facts search: search_vector @@ tsquery, tags &&/@>, meta_data @> and the minConfidence band (facts_confidence_bands(confidence) @> ARRAY[floor(10 * m)]) in one GIN scan (016, 019, 028).';

CREATE OR REPLACE FUNCTION facts_search_serial()
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL UNSAFE
AS $$
  SELECT true;
$$;
COMMENT ON FUNCTION facts_search_serial() IS
  'Always true, and PARALLEL UNSAFE: PostgreSQL plans no parallel query for a statement that names it (028). Facts search with a candidate cap names it so its scan yields the first N matches in one stable order, without SET LOCAL max_parallel_workers_per_gather = 0 in a transaction of its own.';

CREATE TABLE IF NOT EXISTS fact_groups (
  predicate  text        NOT NULL,
  subject    text        NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (predicate, subject)
);
COMMENT ON TABLE fact_groups IS
  'One row per subject/predicate group that has been written (028): facts_lock_group updates it, so a REPEATABLE READ writer whose snapshot predates another writer of the group gets a serialization failure instead of missing a conflict.';

CREATE OR REPLACE FUNCTION facts_lock_group(p_subject text, p_predicate text)
RETURNS void
LANGUAGE sql
AS $$
  SELECT pg_advisory_xact_lock(19019, hashtext(p_subject || chr(31) || p_predicate));
  INSERT INTO fact_groups (predicate, subject) VALUES (p_predicate, p_subject)
  ON CONFLICT (predicate, subject) DO UPDATE SET written_at = now();
$$;
COMMENT ON FUNCTION facts_lock_group(text, text) IS
  'Serialises writers of one subject/predicate: a transaction-scoped advisory lock (019), then an update of its fact_groups row (028), which fails with a serialization error for a REPEATABLE READ writer whose snapshot missed another writer of the group.';

COMMIT;
