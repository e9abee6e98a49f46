-- 016_facts_search_index.sql
--
-- Facts search at scale: one GIN index over the stored vector (015), the tags and the
-- metadata, and the facts table split into 8 hash partitions of id.
--
-- * One index for text + filters. A search that also filters by tag or metadata is one GIN
--   scan that intersects the posting lists inside the index, instead of a BitmapAnd with
--   the jsonb index whose lossy bitmap made PostgreSQL recheck every candidate by re-parsing
--   its text. It keeps the name of 009's index and stays the one full-text index (defect:
--   the original built it twice). Matching uses the stored column: plain SQL should write
--   `search_vector @@ websearch_to_tsquery('english', …)`; to_tsvector('english', text)
--   gives the same answers but cannot use this index.
-- * Partitions. A GIN scan always builds the bitmap of every match before the first row
--   comes back: for a word in 45k of 1M facts that alone took ~14 ms. Ranked search stops
--   after a candidate cap (src/facts/search.ts), and an Append over partitions runs them in
--   order and stops as soon as the cap is reached, so a common word builds one partition's
--   bitmap (1/8 of the matches). Rare words pay 8 small index scans (~0.3 ms more).
--
-- Measured on 1M synthetic facts (bench:facts, PostgreSQL 15, 2 cores): a mid-frequency word
-- plus a metadata filter matching 10% of the facts ~36 ms → ~5 ms p50; a word in 4.5% of
-- the facts ranked over its first 1,000 matches ~11 ms → ~4–6 ms p50.
--
-- A plain table is converted once (rows, the two task↔fact foreign keys, triggers and
-- comments carried over); later runs find the partitioned table and only check the index.
-- idx_facts_tags and idx_facts_meta_data (009) stay: the seed's verification names them.

BEGIN;

DO $$
DECLARE
  v_idx record;
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = 'facts'::regclass) = 'r' THEN
    ALTER TABLE facts RENAME TO facts_unpartitioned;
    -- Free the index and constraint names for the new table.
    FOR v_idx IN
      SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'facts_unpartitioned'::regclass
    LOOP
      EXECUTE format('ALTER INDEX %I RENAME TO %I', v_idx.relname, 'old_' || v_idx.relname);
    END LOOP;

    -- Same columns, order, defaults, NOT NULLs, checks and generated column as before.
    CREATE TABLE facts (LIKE facts_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING COMMENTS)
      PARTITION BY HASH (id);
    ALTER TABLE facts ADD CONSTRAINT facts_pkey PRIMARY KEY (id);
    FOR p IN 0..7 LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF facts FOR VALUES WITH (MODULUS 8, REMAINDER %s)', 'facts_p' || p, p);
    END LOOP;

    INSERT INTO facts (id, text, tags, meta_data, created_at, updated_at)
    SELECT id, text, tags, meta_data, created_at, updated_at FROM facts_unpartitioned;

    -- The edge tables of 010 point at the old table: re-point them, then drop it.
    ALTER TABLE task_reads_fact DROP CONSTRAINT IF EXISTS task_reads_fact_fact_id_fkey;
    ALTER TABLE task_produces_fact DROP CONSTRAINT IF EXISTS task_produces_fact_fact_id_fkey;
    DROP TABLE facts_unpartitioned;
    ALTER TABLE task_reads_fact
      ADD CONSTRAINT task_reads_fact_fact_id_fkey FOREIGN KEY (fact_id) REFERENCES facts (id) ON DELETE CASCADE;
    ALTER TABLE task_produces_fact
      ADD CONSTRAINT task_produces_fact_fact_id_fkey FOREIGN KEY (fact_id) REFERENCES facts (id) ON DELETE CASCADE;

    CREATE INDEX idx_facts_created_at ON facts (created_at);
    CREATE INDEX idx_facts_updated_at ON facts (updated_at);
    CREATE INDEX idx_facts_tags ON facts USING gin (tags);
    CREATE INDEX idx_facts_meta_data ON facts USING gin (meta_data jsonb_path_ops);

    -- Triggers of 009 and 010 (their functions are unchanged).
    CREATE TRIGGER trigger_facts_updated_at
      BEFORE UPDATE ON facts FOR EACH ROW EXECUTE FUNCTION update_facts_updated_at();
    CREATE TRIGGER trg_facts_graph_node_delete
      AFTER DELETE ON facts REFERENCING OLD TABLE AS old_rows
      FOR EACH STATEMENT EXECUTE FUNCTION graph_node_map_entity_deleted('fact', 'id', 'ext_uuid');
    CREATE TRIGGER trg_facts_graph_node_truncate
      AFTER TRUNCATE ON facts
      FOR EACH STATEMENT EXECUTE FUNCTION graph_node_map_entity_deleted('fact', 'id', 'ext_uuid');
  END IF;

  IF NOT EXISTS (
    SELECT 1 FROM pg_indexes
     WHERE schemaname = current_schema() AND indexname = 'idx_facts_text_search'
       AND indexdef LIKE '%USING gin (search_vector, tags, meta_data jsonb_path_ops)%'
  ) THEN
    DROP INDEX IF EXISTS idx_facts_text_search;
    CREATE INDEX idx_facts_text_search ON facts USING gin (search_vector, tags, meta_data jsonb_path_ops);
  END IF;
END
$$;

COMMENT ON TABLE facts IS
  'Knowledge base entries (graph node type fact), 8 hash partitions of id (016). Full-text search: search_vector @@ websearch_to_tsquery(''english'', ...), served by idx_facts_text_search (with tags and meta_data filters).';

COMMENT ON COLUMN facts.search_vector IS
  'to_tsvector(''english'', text), stored: matched through idx_facts_text_search (016) and read by ranking (ts_rank_cd).';

COMMENT ON INDEX idx_facts_text_search IS
  'Facts search: search_vector @@ tsquery, tags &&/@>, meta_data @> in one GIN scan (016).';

COMMIT;
