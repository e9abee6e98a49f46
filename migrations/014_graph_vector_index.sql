-- 014_graph_vector_index.sql
--
-- The ANN index on graph_embeddings becomes HNSW (same name, idx_graph_embeddings_emb).
-- 002 builds IVFFlat on an empty table: k-means has nothing to train on, and with the
-- default ivfflat.probes = 1 a kNN query can return fewer rows than exist. HNSW can be built
-- empty, stays accurate as rows arrive (the graph is updated per insert), and was the better
-- default in bench:graph (100k × 128 clustered vectors, PostgreSQL 15 + pgvector 0.8.0,
-- 2 cores): recall@10 1.00 at p50 1.0 ms (HNSW m 16, ef_construction 64, ef_search 100) vs
-- 0.996 at 15 ms for IVFFlat (lists 100, probes 20) and 48 ms for an exact scan.
--
-- Only the untuned index of 002 is replaced: an index whose COMMENT holds parameters was
-- built by `seedcore embeddings reindex` (perhaps IVFFlat on purpose) and is kept. Building
-- HNSW over existing rows takes time (≈15 s per 100k rows on 2 cores); it runs once.

BEGIN;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1
                   FROM pg_class c JOIN pg_am am ON am.oid = c.relam
                  WHERE c.oid = to_regclass('idx_graph_embeddings_emb')
                    AND (am.amname = 'hnsw' OR obj_description(c.oid, 'pg_class') IS NOT NULL)) THEN
    DROP INDEX IF EXISTS idx_graph_embeddings_emb;
    CREATE INDEX idx_graph_embeddings_emb
      ON graph_embeddings USING hnsw (emb vector_l2_ops) WITH (m = 16, ef_construction = 64);
    COMMENT ON INDEX idx_graph_embeddings_emb IS
      '{"method":"hnsw","m":16,"ef_construction":64,"ef_search":100}';
  END IF;
END
$$;

-- hnsw.ef_search 100 (pgvector's default is 40) as the database default, so a plain
-- ORDER BY emb <-> $1 LIMIT k from any new session reaches the recall target. Needs
-- ownership of the database; without it the API still sets ef_search per query.
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET hnsw.ef_search = 100', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'not the database owner: hnsw.ef_search default not set (the SeedCore API sets it per query)';
END
$$;

-- The session running this file (PGlite's only session) gets it too.
SET hnsw.ef_search = 100;

COMMIT;
