-- 026: seedcore_ensure_index, the "create the index, or rebuild it if its definition differs"
-- rule of 001/004/005/006/009/013/021 as one function, for migrations from now on.
--
--   SELECT seedcore_ensure_index('idx_tasks_type', 'CREATE INDEX ON tasks (type, created_at)');
--
-- p_definition is a CREATE [UNIQUE] INDEX statement. It may name the index (then the name
-- must be p_name, so the output of pg_get_indexdef can be pasted) or leave the name out;
-- IF NOT EXISTS, CONCURRENTLY and ON ONLY are refused (the function decides whether to
-- build, it runs inside the migration's transaction, and it builds the index on every
-- partition of a partitioned table).
--
-- The rule, as in the blocks it replaces:
-- * The canonical form of the wanted definition comes from PostgreSQL itself: the index is
--   built on an empty temporary copy of the table (CREATE TEMP TABLE ... (LIKE table)) and
--   read back with pg_get_indexdef, from ' USING ' on (method, keys, INCLUDE, WITH, WHERE).
-- * An index named p_name on the table is kept when that text, its uniqueness and its
--   validity match; otherwise it is dropped and built again (RAISE NOTICE says so). No index
--   of that name: it is built. An index of that name on another table is an error (dropping
--   it could take another table's index away).
-- * On a partitioned table the index is built on the parent, so PostgreSQL builds one on
--   each partition; an invalid parent (a partition without its index) is rebuilt.
-- * One call is one statement: when the build fails (bad definition, or a UNIQUE index over
--   duplicate rows) the error rolls the drop back too, and the old index stays as it was.
--
-- Returns 'created', 'rebuilt' or 'unchanged'.
--
-- Idempotent: CREATE OR REPLACE FUNCTION.
BEGIN;

CREATE OR REPLACE FUNCTION seedcore_ensure_index(p_name text, p_definition text)
RETURNS text
LANGUAGE plpgsql
AS $fn$
DECLARE
  -- An identifier as SQL spells it: "quoted" or a plain word.
  c_ident constant text := '(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)';
  v_m      text[];
  v_unique boolean;
  v_create text;
  v_named  text;
  v_table  regclass;
  v_rest   text;
  v_want   text;
  v_have   text;
  v_valid  boolean;
  v_idx    regclass;
  v_on     regclass;
BEGIN
  IF p_name IS NULL OR p_name = '' OR p_definition IS NULL THEN
    RAISE EXCEPTION 'seedcore_ensure_index: the index name and definition are required'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- 1 UNIQUE, 2 the index name, 3 ONLY, 4 the table ([schema.]name), 5 the rest from USING or '('.
  v_m := regexp_match(p_definition,
    '^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:(' || c_ident || ')\s+)?ON\s+(ONLY\s+)?('
      || c_ident || '(?:\s*\.\s*' || c_ident || ')?)(\s*(?:USING\s|\().*?);?\s*$', 'i');
  IF v_m IS NULL OR upper(coalesce(v_m[2], '')) IN ('IF', 'CONCURRENTLY', 'ON') THEN
    RAISE EXCEPTION 'seedcore_ensure_index(%): the definition must read CREATE [UNIQUE] INDEX [name] ON table [USING method] (...) ...: %',
      p_name, p_definition
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_m[3] IS NOT NULL THEN
    RAISE EXCEPTION 'seedcore_ensure_index(%): ON ONLY is not supported (the index is built on every partition)', p_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_create := CASE WHEN v_m[1] IS NOT NULL THEN 'CREATE UNIQUE INDEX' ELSE 'CREATE INDEX' END;
  v_unique := v_m[1] IS NOT NULL;
  v_named := CASE WHEN v_m[2] LIKE '"%' THEN replace(substr(v_m[2], 2, length(v_m[2]) - 2), '""', '"')
                  ELSE lower(v_m[2]) END;
  IF v_named IS NOT NULL AND v_named <> p_name THEN
    RAISE EXCEPTION 'seedcore_ensure_index(%): the definition names another index (%)', p_name, v_named
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_table := v_m[4]::regclass;
  v_rest := ltrim(v_m[5]);

  -- The canonical text of the wanted index, from an empty copy of the table.
  EXECUTE format('CREATE TEMP TABLE seedcore_ensure_index_probe (LIKE %s)', v_table);
  EXECUTE format('%s seedcore_ensure_index_probe_idx ON pg_temp.seedcore_ensure_index_probe %s', v_create, v_rest);
  v_want := pg_get_indexdef(to_regclass('pg_temp.seedcore_ensure_index_probe_idx'));
  v_want := substr(v_want, strpos(v_want, ' USING '));
  DROP TABLE pg_temp.seedcore_ensure_index_probe;

  -- Index names are unique per schema: look for p_name in the table's schema.
  SELECT i.indexrelid::regclass, i.indrelid::regclass, pg_get_indexdef(i.indexrelid),
         i.indisvalid AND i.indisunique = v_unique
    INTO v_idx, v_on, v_have, v_valid
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE c.relname = p_name
     AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = v_table);
  IF v_idx IS NOT NULL AND v_on <> v_table THEN
    RAISE EXCEPTION 'seedcore_ensure_index(%): an index of that name is on table %, not %', p_name, v_on, v_table
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_idx IS NOT NULL AND v_valid AND substr(v_have, strpos(v_have, ' USING ')) = v_want THEN
    RETURN 'unchanged';
  END IF;
  IF v_idx IS NOT NULL THEN
    RAISE NOTICE 'rebuilding index % (was: %)', p_name, v_have;
    EXECUTE format('DROP INDEX %s', v_idx);
  END IF;
  EXECUTE format('%s %I ON %s %s', v_create, p_name, v_table, v_rest);
  RETURN CASE WHEN v_idx IS NULL THEN 'created' ELSE 'rebuilt' END;
END
$fn$;

COMMENT ON FUNCTION seedcore_ensure_index(text, text) IS
  'Migration helper (026): builds index p_name from p_definition (CREATE [UNIQUE] INDEX [name] ON table ...) when missing, rebuilds it when its pg_get_indexdef (from USING on), uniqueness or validity differs; returns created, rebuilt or unchanged.';

COMMIT;
