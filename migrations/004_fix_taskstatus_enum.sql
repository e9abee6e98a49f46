-- 004_fix_taskstatus_enum.sql
--
-- Makes tasks.status a taskstatus enum with lower-case labels, whatever shape it had.
--
--   * Enum missing: created. Enum without 'retry': the label is added.
--   * LEGACY table (status TEXT, default 'CREATED', CHECK allowing only upper-case
--     CREATED/QUEUED/RUNNING/COMPLETED/FAILED/CANCELLED/RETRY): the column is converted in
--     place. CHECK constraints on status, its default, the graph_tasks view and the partial
--     indexes comparing status with text literals are dropped first (they cannot survive
--     the type change), the values are lower-cased into the enum, the default becomes
--     'created', and view and indexes are re-created below.
--   * Otherwise (fresh database, or already converted) nothing changes.

BEGIN;

DO $$
DECLARE
  v_type  regtype;
  v_bad   text;
  v_rows  bigint;
  v_name  text;
  v_obj   regclass;
BEGIN
  IF to_regtype('taskstatus') IS NULL THEN
    CREATE TYPE taskstatus AS ENUM
      ('created', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retry');
  ELSIF NOT EXISTS (SELECT 1 FROM pg_enum
                     WHERE enumtypid = 'taskstatus'::regtype AND enumlabel = 'retry') THEN
    ALTER TYPE taskstatus ADD VALUE IF NOT EXISTS 'retry';
  END IF;

  SELECT a.atttypid::regtype INTO v_type
    FROM pg_attribute a
   WHERE a.attrelid = to_regclass('tasks') AND a.attname = 'status' AND NOT a.attisdropped;

  IF v_type IN ('text'::regtype, 'character varying'::regtype) THEN
    -- Refuse values that have no enum label, naming them, before touching anything.
    SELECT string_agg(DISTINCT quote_literal(t.status), ', ') INTO v_bad
      FROM tasks t
     WHERE lower(t.status) NOT IN (SELECT e.enumlabel FROM pg_enum e
                                    WHERE e.enumtypid = 'taskstatus'::regtype);
    IF v_bad IS NOT NULL THEN
      RAISE EXCEPTION 'cannot convert tasks.status to taskstatus: unknown status values %', v_bad
        USING ERRCODE = 'invalid_text_representation';
    END IF;

    FOR v_name IN
      SELECT c.conname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attname = 'status'
       WHERE c.conrelid = 'tasks'::regclass AND c.contype = 'c' AND a.attnum = ANY (c.conkey)
    LOOP
      EXECUTE format('ALTER TABLE tasks DROP CONSTRAINT %I', v_name);
    END LOOP;

    ALTER TABLE tasks ALTER COLUMN status DROP DEFAULT;

    IF to_regclass('graph_tasks') IS NOT NULL THEN
      DROP VIEW graph_tasks;
    END IF;

    FOREACH v_name IN ARRAY ARRAY['idx_tasks_claim', 'idx_tasks_status',
                                  'idx_tasks_stale_running', 'idx_tasks_owner_status'] LOOP
      v_obj := NULL;
      SELECT i.indexrelid::regclass INTO v_obj
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'tasks'::regclass AND c.relname = v_name;
      IF v_obj IS NOT NULL THEN
        EXECUTE format('DROP INDEX %s', v_obj);
      END IF;
    END LOOP;

    ALTER TABLE tasks ALTER COLUMN status TYPE taskstatus USING lower(status)::taskstatus;
    ALTER TABLE tasks ALTER COLUMN status SET DEFAULT 'created';

    SELECT count(*) INTO v_rows FROM tasks;
    RAISE NOTICE 'converted tasks.status from % to taskstatus (% rows, values lower-cased)',
                 v_type, v_rows;
  END IF;
END
$$;

-- Task indexes (same set and same rules as 001; see the explanation there).
DO $$
DECLARE
  v_spec  record;
  v_want  text;
  v_have  text;
  v_valid boolean;
  v_idx   regclass;
BEGIN
  CREATE TEMP TABLE seedcore_index_probe (LIKE tasks);
  FOR v_spec IN
    SELECT * FROM (VALUES
      ('idx_tasks_claim',      '(created_at, id) WHERE status IN (''queued'', ''retry'')'),
      ('idx_tasks_status',     '(status, created_at) WHERE status IN (''created'', ''failed'', ''cancelled'')'),
      ('idx_tasks_created_at', '(created_at)'),
      ('idx_tasks_type',       '(type, created_at)'),
      ('idx_tasks_domain',     '(domain, created_at) WHERE domain IS NOT NULL')
    ) AS s(name, def)
  LOOP
    EXECUTE format('CREATE INDEX %I ON seedcore_index_probe %s', 'probe_' || v_spec.name, v_spec.def);
    v_want := pg_get_indexdef(to_regclass(format('pg_temp.%I', 'probe_' || v_spec.name)));
    v_want := substr(v_want, strpos(v_want, ' USING '));
    v_idx := NULL;
    SELECT i.indexrelid::regclass, pg_get_indexdef(i.indexrelid), i.indisvalid AND NOT i.indisunique
      INTO v_idx, v_have, v_valid
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = 'tasks'::regclass AND c.relname = v_spec.name;
    IF v_idx IS NOT NULL AND (NOT v_valid OR substr(v_have, strpos(v_have, ' USING ')) <> v_want) THEN
      RAISE NOTICE 'rebuilding index % (was: %)', v_spec.name, v_have;
      EXECUTE format('DROP INDEX %s', v_idx);
      v_idx := NULL;
    END IF;
    IF v_idx IS NULL THEN
      EXECUTE format('CREATE INDEX %I ON tasks %s', v_spec.name, v_spec.def);
    END IF;
  END LOOP;
  DROP TABLE seedcore_index_probe;
END
$$;

-- graph_tasks (identical to 003; re-created here because the legacy conversion drops it).
CREATE OR REPLACE VIEW graph_tasks AS
SELECT t.id,
       t.type,
       t.status,
       t.attempts,
       t.locked_by,
       t.locked_at,
       t.run_after,
       t.params,
       t.result,
       t.error,
       t.created_at,
       t.updated_at,
       t.drift_score,
       CASE t.status
         WHEN 'completed' THEN '✅'
         WHEN 'running'   THEN '🔄'
         WHEN 'queued'    THEN '⏳'
         WHEN 'failed'    THEN '❌'
         WHEN 'retry'     THEN '🔄'
         WHEN 'created'   THEN '📝'
         WHEN 'cancelled' THEN '❌'
         ELSE '❓'
       END AS status_emoji
  FROM tasks t
 WHERE t.type IN ('graph_embed', 'graph_rag_query')
 ORDER BY t.updated_at DESC, t.id;

COMMENT ON VIEW graph_tasks IS
  'Graph tasks (graph_embed, graph_rag_query), most recently updated first, with a status emoji for dashboards.';

COMMIT;
