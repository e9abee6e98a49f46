-- 001_create_tasks_table.sql
--
-- The durable work queue: a `tasks` table written by the Coordinator (creates tasks) and
-- driven by Dispatchers (claim with SKIP LOCKED, lease, heartbeat, retry, complete).
--
-- Conventions shared by every migration of this project:
--   * the first statement is BEGIN and the last is COMMIT, so the whole file is atomic;
--   * the file can be applied any number of times: a second run leaves schema and data
--     exactly as they were (every step checks before it acts, or replaces an object with
--     an identical definition).
--
-- This file also tolerates the pre-enum LEGACY shape of `tasks` (status TEXT with an
-- upper-case CHECK). It leaves such a table alone; 004 converts it.

BEGIN;

-- ---------------------------------------------------------------------------
-- Status enum (labels in their sort order).
-- ---------------------------------------------------------------------------
DO $$
BEGIN
  IF to_regtype('taskstatus') IS NULL THEN
    CREATE TYPE taskstatus AS ENUM
      ('created', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retry');
  END IF;
END
$$;

COMMENT ON TYPE taskstatus IS
  'Life cycle of a task: created -> queued -> running -> completed | failed | cancelled; retry = waiting for another run (see run_after).';

-- ---------------------------------------------------------------------------
-- Table. The lease columns owner_id, lease_expires_at and last_heartbeat come in 006.
-- ---------------------------------------------------------------------------
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

COMMENT ON TABLE tasks IS
  'Durable task queue. The Coordinator inserts tasks; Dispatchers claim them (FOR UPDATE SKIP LOCKED), hold a lease while running, and record the outcome with compare-and-set updates.';
COMMENT ON COLUMN tasks.status IS 'Current state (taskstatus).';
COMMENT ON COLUMN tasks.attempts IS 'Number of executions started; the claim increments it. A task runs at most max_attempts times.';
COMMENT ON COLUMN tasks.locked_by IS 'Worker (dispatcher instance) that claimed the task; free text.';
COMMENT ON COLUMN tasks.locked_at IS 'When the current run was claimed.';
COMMENT ON COLUMN tasks.run_after IS 'Earliest time at which a queued or retry task may be claimed (NULL = now).';
COMMENT ON COLUMN tasks.type IS 'Task type, e.g. graph_embed or graph_rag_query; selects the handler.';
COMMENT ON COLUMN tasks.domain IS 'Optional routing domain.';
COMMENT ON COLUMN tasks.drift_score IS 'OCPS valve input: 0.0 = fast path, >= 0.5 = escalate.';
COMMENT ON COLUMN tasks.params IS 'Handler input (JSON object).';
COMMENT ON COLUMN tasks.result IS 'Handler output (JSON), set on completion.';
COMMENT ON COLUMN tasks.error IS 'Last error text; maintenance routines append to it, separated by " | ".';
COMMENT ON COLUMN tasks.updated_at IS 'Last change. Set by the writer, or by trigger_tasks_updated_at when the writer leaves it unchanged.';

-- ---------------------------------------------------------------------------
-- Indexes.
--
-- Every update that is not HOT writes into every index whose predicate the new row
-- satisfies, so the set is deliberately small and partial, shaped after the real query
-- paths (the original had 12 mostly single-column indexes; a claim+complete loop ran
-- about 2.5x faster with two partial ones):
--
--   idx_tasks_claim      (created_at, id) WHERE status IN ('queued','retry')
--                        The claim: oldest claimable task first, FOR UPDATE SKIP LOCKED.
--                        Only waiting rows are in it, so it stays small however large the
--                        history grows; run_after is filtered on the few rows it returns.
--   idx_tasks_running    (lease_expires_at) WHERE status = 'running'          [created in 006]
--                        Lease sweep / cleanup_stale_running_tasks, owner look-ups and the
--                        listing of running tasks: the running set is small.
--   idx_tasks_status     (status, created_at) WHERE status IN ('created','failed','cancelled')
--                        Listing of the rarer states, newest first. 'completed' is the bulk
--                        of the table; its listing walks idx_tasks_created_at instead.
--   idx_tasks_created_at (created_at)
--                        Listing of all tasks by age, 'completed' listings, retention pruning.
--   idx_tasks_type       (type, created_at)
--                        Listing by type (graph_tasks, per-handler dashboards), newest first.
--   idx_tasks_domain     (domain, created_at) WHERE domain IS NOT NULL
--                        Listing by domain; most tasks have none, so they stay out of it.
--
-- Indexes of the original that are not in this set are dropped when found (upgrade of an
-- original database). An index that carries one of our names but a different definition
-- (or is invalid) is dropped and rebuilt. The expected definition is obtained by building
-- the same index on an empty scratch copy of the table, so the comparison does not depend
-- on the server version's way of printing index definitions.
-- ---------------------------------------------------------------------------
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

-- ---------------------------------------------------------------------------
-- updated_at maintenance.
-- The trigger only fires when the UPDATE leaves updated_at unchanged: a writer that sets
-- updated_at itself (the dispatcher does, on its hot path) is not overridden and pays for
-- no trigger call.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION update_tasks_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

COMMENT ON FUNCTION update_tasks_updated_at() IS
  'Trigger function: sets tasks.updated_at to now().';

CREATE OR REPLACE TRIGGER trigger_tasks_updated_at
  BEFORE UPDATE ON tasks
  FOR EACH ROW
  WHEN (OLD.updated_at IS NOT DISTINCT FROM NEW.updated_at)
  EXECUTE FUNCTION update_tasks_updated_at();

COMMENT ON TRIGGER trigger_tasks_updated_at ON tasks IS
  'Stamps updated_at = now() unless the UPDATE itself changed updated_at.';

COMMIT;
