-- 005_consolidate_task_schema.sql
--
-- Brings any earlier shape of `tasks` to the consolidated one: enum complete, every column
-- of 001 present, the task index set of 001 (and nothing else of the original's), and the
-- final graph_tasks view. Finishes with a verification that fails the migration if the
-- table still does not have the expected shape.

BEGIN;

DO $$
BEGIN
  IF to_regtype('taskstatus') IS NULL THEN
    CREATE TYPE taskstatus AS ENUM
      ('created', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retry');
  ELSIF NOT EXISTS (SELECT 1 FROM pg_enum
                     WHERE enumtypid = 'taskstatus'::regtype AND enumlabel = 'retry') THEN
    ALTER TYPE taskstatus ADD VALUE IF NOT EXISTS 'retry';
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS tasks (
  id          uuid             NOT NULL DEFAULT gen_random_uuid(),
  status      taskstatus       NOT NULL DEFAULT 'created',
  attempts    integer          NOT NULL DEFAULT 0,
  locked_by   text,
  locked_at   timestamptz,
  run_after   timestamptz,
  type        text             NOT NULL,
  description text,
  domain      text,
  drift_score double precision NOT NULL DEFAULT 0.0,
  params      jsonb            NOT NULL DEFAULT '{}'::jsonb,
  result      jsonb,
  error       text,
  created_at  timestamptz      NOT NULL DEFAULT now(),
  updated_at  timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT tasks_pkey PRIMARY KEY (id)
);

-- Columns that early versions of the table lacked.
DO $$
DECLARE
  v_col record;
BEGIN
  FOR v_col IN
    SELECT * FROM (VALUES
      ('locked_by',   'text'),
      ('locked_at',   'timestamptz'),
      ('run_after',   'timestamptz'),
      ('attempts',    'integer NOT NULL DEFAULT 0'),
      ('drift_score', 'double precision NOT NULL DEFAULT 0.0')
    ) AS s(name, def)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = 'tasks'::regclass AND attname = v_col.name
                      AND attnum > 0 AND NOT attisdropped) THEN
      EXECUTE format('ALTER TABLE tasks ADD COLUMN %I %s', v_col.name, v_col.def);
    END IF;
  END LOOP;
END
$$;

-- Task indexes (same set and same rules as 001; see the explanation there).
DO $$
DECLARE
  v_name text;
  v_idx  regclass;
BEGIN
  FOREACH v_name IN ARRAY ARRAY['idx_tasks_run_after', 'idx_tasks_locked_at'] LOOP
    SELECT i.indexrelid::regclass INTO v_idx
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = 'tasks'::regclass AND c.relname = v_name;
    IF v_idx IS NOT NULL THEN
      EXECUTE format('DROP INDEX %s', v_idx);
    END IF;
  END LOOP;
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

-- graph_tasks, final definition (identical to 003 and 004).
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

-- Verification: the consolidated shape, or the migration fails.
DO $$
DECLARE
  v_missing text;
BEGIN
  SELECT string_agg(format('%s %s', w.name, w.type), ', ') INTO v_missing
    FROM (VALUES
      ('id', 'uuid'), ('status', 'taskstatus'), ('attempts', 'integer'),
      ('locked_by', 'text'), ('locked_at', 'timestamp with time zone'),
      ('run_after', 'timestamp with time zone'), ('type', 'text'), ('description', 'text'),
      ('domain', 'text'), ('drift_score', 'double precision'), ('params', 'jsonb'),
      ('result', 'jsonb'), ('error', 'text'), ('created_at', 'timestamp with time zone'),
      ('updated_at', 'timestamp with time zone')
    ) AS w(name, type)
   WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = 'tasks'::regclass AND a.attname = w.name
                        AND NOT a.attisdropped
                        AND format_type(a.atttypid, NULL) = w.type);
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION 'tasks does not have the expected columns: missing or mistyped %', v_missing
      USING ERRCODE = 'invalid_table_definition';
  END IF;
  IF (SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum
       WHERE enumtypid = 'taskstatus'::regtype)
     IS DISTINCT FROM ARRAY['created', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retry'] THEN
    RAISE EXCEPTION 'taskstatus does not have the expected labels: %',
                    enum_range(NULL::taskstatus)
      USING ERRCODE = 'invalid_table_definition';
  END IF;
END
$$;

COMMIT;
