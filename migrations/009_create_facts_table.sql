-- 009_create_facts_table.sql
--
-- Knowledge base: facts with full-text search (one GIN index on the English tsvector of
-- text), tags (GIN) and JSONB metadata (GIN, jsonb_path_ops for @> containment), plus
-- three sample facts with fixed ids, inserted once however often this file runs.

BEGIN;

CREATE TABLE IF NOT EXISTS facts (
  id         uuid        NOT NULL DEFAULT gen_random_uuid(),
  text       text        NOT NULL,
  tags       text[]               DEFAULT '{}',
  meta_data  jsonb                DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT facts_pkey PRIMARY KEY (id)
);

COMMENT ON TABLE facts IS
  'Knowledge base entries (graph node type fact). Full-text search: to_tsvector(''english'', text) @@ websearch_to_tsquery(''english'', ...), served by idx_facts_text_search.';
COMMENT ON COLUMN facts.text IS 'The fact, in English prose (full-text indexed).';
COMMENT ON COLUMN facts.tags IS 'Free tags; filter with tags @> ARRAY[...] or ... = ANY(tags).';
COMMENT ON COLUMN facts.meta_data IS 'Free metadata (JSON object); filter with meta_data @> ''{...}''.';

-- ---------------------------------------------------------------------------
-- Indexes.
--   idx_facts_text_search  GIN (to_tsvector('english', text))   full-text search; the
--                          original's identical twin idx_facts_text is dropped.
--   idx_facts_created_at   btree (created_at)                    listing newest first.
--   idx_facts_updated_at   btree (updated_at)                    recently changed facts.
--   idx_facts_tags         GIN (tags)                            tag filters (@>, &&).
--   idx_facts_meta_data    GIN (meta_data jsonb_path_ops)        containment (@>); smaller
--                          and faster than the default jsonb_ops, which the original used.
-- An index with one of these names but another definition is rebuilt (as in 001).
-- ---------------------------------------------------------------------------
DO $$
DECLARE
  v_idx regclass;
BEGIN
  SELECT i.indexrelid::regclass INTO v_idx
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = 'facts'::regclass AND c.relname = 'idx_facts_text';
  IF v_idx IS NOT NULL THEN
    EXECUTE format('DROP INDEX %s', v_idx);
  END IF;
END
$$;

DO $$
DECLARE
  v_spec  record;
  v_want  text;
  v_have  text;
  v_valid boolean;
  v_idx   regclass;
BEGIN
  CREATE TEMP TABLE seedcore_index_probe (LIKE facts);
  FOR v_spec IN
    SELECT * FROM (VALUES
      ('idx_facts_text_search', 'USING gin (to_tsvector(''english'', text))'),
      ('idx_facts_created_at',  '(created_at)'),
      ('idx_facts_updated_at',  '(updated_at)'),
      ('idx_facts_tags',        'USING gin (tags)'),
      ('idx_facts_meta_data',   'USING gin (meta_data jsonb_path_ops)')
    ) AS s(name, def)
  LOOP
    EXECUTE format('CREATE INDEX %I ON seedcore_index_probe %s', 'probe_' || v_spec.name, v_spec.def);
    v_want := pg_get_indexdef(to_regclass(format('pg_temp.%I', 'probe_' || v_spec.name)));
    v_want := substr(v_want, strpos(v_want, ' USING '));
    v_idx := NULL;
    SELECT i.indexrelid::regclass, pg_get_indexdef(i.indexrelid), i.indisvalid AND NOT i.indisunique
      INTO v_idx, v_have, v_valid
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = 'facts'::regclass AND c.relname = v_spec.name;
    IF v_idx IS NOT NULL AND (NOT v_valid OR substr(v_have, strpos(v_have, ' USING ')) <> v_want) THEN
      RAISE NOTICE 'rebuilding index % (was: %)', v_spec.name, v_have;
      EXECUTE format('DROP INDEX %s', v_idx);
      v_idx := NULL;
    END IF;
    IF v_idx IS NULL THEN
      EXECUTE format('CREATE INDEX %I ON facts %s', v_spec.name, v_spec.def);
    END IF;
  END LOOP;
  DROP TABLE seedcore_index_probe;
END
$$;

CREATE OR REPLACE FUNCTION update_facts_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

COMMENT ON FUNCTION update_facts_updated_at() IS
  'Trigger function: sets facts.updated_at to now().';

CREATE OR REPLACE TRIGGER trigger_facts_updated_at
  BEFORE UPDATE ON facts
  FOR EACH ROW
  EXECUTE FUNCTION update_facts_updated_at();

-- Sample facts: fixed ids, so they are inserted exactly once.
-- A sample row is skipped when a fact with the same text exists (a database upgraded from the
-- original already holds them under other ids). (An earlier version of this file checked the
-- id only; its checksum is accepted as this file's, see src/migrate/files.ts.)
INSERT INTO facts (id, text, tags, meta_data)
SELECT v.id::uuid, v.text, v.tags, v.meta_data::jsonb
  FROM (VALUES
  ('5eedc0de-fac7-4000-8000-000000000001',
   'SeedCore is a scalable task management system',
   ARRAY['system', 'description'],
   '{"source": "documentation", "priority": "high"}'),
  ('5eedc0de-fac7-4000-8000-000000000002',
   'PostgreSQL provides excellent JSON support',
   ARRAY['database', 'json'],
   '{"source": "technical", "verified": true}'),
  ('5eedc0de-fac7-4000-8000-000000000003',
   'FastAPI offers modern Python web development',
   ARRAY['framework', 'python'],
   '{"source": "development", "rating": 5}')
  ) AS v(id, text, tags, meta_data)
 WHERE NOT EXISTS (SELECT 1 FROM facts f WHERE f.text = v.text)
ON CONFLICT (id) DO NOTHING;

COMMIT;
