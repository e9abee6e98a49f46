-- 013_task_priority_scheduling.sql
--
-- The seed's plan for 013: priority levels, scheduling constraints and task pools/queues.
--
--   tasks.priority         taskpriority (critical, high, normal, low), default normal.
--                          An enum, not a smallint: the labels are what clients write, invalid
--                          values are refused by the type, and the declaration order is the
--                          claim order (critical sorts first). The claim ages waiting tasks
--                          (see README "Scheduling"), so low priority never starves.
--   tasks.queue            named queue / pool, default 'default'; workers serve a list of queues.
--   tasks.max_attempts     per-task execution budget (NULL = the dispatcher's default).
--   tasks.timeout_seconds  per-task handler timeout (NULL = the dispatcher's per-type timeout).
--   tasks.dedup_key        at most one non-terminal (created/queued/running/retry) task per key;
--                          submit returns the existing task instead of failing (unique index).
--   tasks.expires_at       end of the time window: a task not started by then is cancelled with
--                          error 'expired'. The start of the window is the existing run_after
--                          ("not claimed before"): a second column would mean a second sort key.
--   task_schedules         cron schedules, fired once per slot by a compare-and-set on last_slot.
--   queue_limits           cluster-wide limit of running tasks per queue (0 pauses the queue).
--
-- Index changes (each index costs on the claim/complete hot path, so the set stays small):
--   idx_tasks_claim   reshaped to (queue, priority, coalesce(run_after, created_at), created_at)
--                     WHERE status IN ('queued','retry'): one range scan per (queue, priority)
--                     returns the due tasks oldest-due first.
--   idx_tasks_dedup   UNIQUE (dedup_key) WHERE dedup_key IS NOT NULL AND non-terminal:
--                     tasks without a key never enter it.
--   idx_tasks_expires (expires_at) WHERE expires_at IS NOT NULL AND waiting: tasks without a
--                     window never enter it; it serves the expiry sweep.

BEGIN;

DO $$
BEGIN
  IF to_regtype('taskpriority') IS NULL THEN
    CREATE TYPE taskpriority AS ENUM ('critical', 'high', 'normal', 'low');
  END IF;
END
$$;

COMMENT ON TYPE taskpriority IS 'Task priority; declaration order is claim order (critical first).';

DO $$
DECLARE
  v_col record;
BEGIN
  FOR v_col IN
    SELECT * FROM (VALUES
      ('priority',        'taskpriority NOT NULL DEFAULT ''normal'''),
      ('queue',           'text NOT NULL DEFAULT ''default'''),
      ('max_attempts',    'integer'),
      ('timeout_seconds', 'double precision'),
      ('dedup_key',       'text'),
      ('expires_at',      'timestamptz')
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

DO $$
DECLARE
  v_chk record;
BEGIN
  FOR v_chk IN
    SELECT * FROM (VALUES
      ('tasks_queue_check',           'CHECK (length(queue) BETWEEN 1 AND 200)'),
      ('tasks_max_attempts_check',    'CHECK (max_attempts IS NULL OR max_attempts >= 1)'),
      ('tasks_timeout_seconds_check', 'CHECK (timeout_seconds IS NULL OR timeout_seconds > 0)'),
      ('tasks_dedup_key_check',       'CHECK (dedup_key IS NULL OR length(dedup_key) BETWEEN 1 AND 500)')
    ) AS s(name, def)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'tasks'::regclass AND conname = v_chk.name) THEN
      EXECUTE format('ALTER TABLE tasks ADD CONSTRAINT %I %s', v_chk.name, v_chk.def);
    END IF;
  END LOOP;
END
$$;

COMMENT ON COLUMN tasks.priority IS 'critical, high, normal (default) or low; claimed in that order, with aging (no starvation).';
COMMENT ON COLUMN tasks.queue IS 'Named queue (pool); a worker claims only from the queues it serves.';
COMMENT ON COLUMN tasks.max_attempts IS 'Executions allowed for this task; NULL = the dispatcher default.';
COMMENT ON COLUMN tasks.timeout_seconds IS 'Handler timeout for this task; NULL = the dispatcher''s per-type timeout.';
COMMENT ON COLUMN tasks.dedup_key IS 'At most one created/queued/running/retry task per key; submitting a duplicate returns the existing task.';
COMMENT ON COLUMN tasks.expires_at IS 'A task not started by this time is cancelled with error ''expired''. run_after is the start of the window.';

-- Indexes: same rebuild-if-different rule as 001/005/006 (a probe table gives the canonical
-- definition; an index with another definition, or invalid, is rebuilt).
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
      ('idx_tasks_claim',   false, '(queue, priority, (COALESCE(run_after, created_at)), created_at) WHERE status IN (''queued'', ''retry'')'),
      ('idx_tasks_dedup',   true,  '(dedup_key) WHERE dedup_key IS NOT NULL AND status IN (''created'', ''queued'', ''running'', ''retry'')'),
      ('idx_tasks_expires', false, '(expires_at) WHERE expires_at IS NOT NULL AND status IN (''created'', ''queued'', ''retry'')')
    ) AS s(name, uniq, def)
  LOOP
    EXECUTE format('CREATE %s INDEX %I ON seedcore_index_probe %s',
                   CASE WHEN v_spec.uniq THEN 'UNIQUE' ELSE '' END, 'probe_' || v_spec.name, v_spec.def);
    v_want := pg_get_indexdef(to_regclass(format('pg_temp.%I', 'probe_' || v_spec.name)));
    v_want := substr(v_want, strpos(v_want, ' USING '));
    v_idx := NULL;
    SELECT i.indexrelid::regclass, pg_get_indexdef(i.indexrelid), i.indisvalid AND i.indisunique = v_spec.uniq
      INTO v_idx, v_have, v_valid
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = 'tasks'::regclass AND c.relname = v_spec.name;
    IF v_idx IS NOT NULL AND (NOT v_valid OR substr(v_have, strpos(v_have, ' USING ')) <> v_want) THEN
      RAISE NOTICE 'rebuilding index % (was: %)', v_spec.name, v_have;
      EXECUTE format('DROP INDEX %s', v_idx);
      v_idx := NULL;
    END IF;
    IF v_idx IS NULL THEN
      EXECUTE format('CREATE %s INDEX %I ON tasks %s',
                     CASE WHEN v_spec.uniq THEN 'UNIQUE' ELSE '' END, v_spec.name, v_spec.def);
    END IF;
  END LOOP;
  DROP TABLE seedcore_index_probe;
END
$$;

-- ---------------------------------------------------------------------------
-- Recurring tasks. Every worker evaluates the enabled schedules; firing slot S is
--   UPDATE task_schedules SET last_slot = S WHERE name = $1 AND last_slot < S
-- in the transaction that inserts the task, so exactly one worker fires each slot.
-- Missed slots (no worker running) collapse into one run of the latest slot.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS task_schedules (
  name         text         NOT NULL,
  cron         text         NOT NULL,
  timezone     text         NOT NULL DEFAULT 'UTC',
  type         text         NOT NULL,
  params       jsonb        NOT NULL DEFAULT '{}'::jsonb,
  queue        text         NOT NULL DEFAULT 'default',
  priority     taskpriority NOT NULL DEFAULT 'normal',
  enabled      boolean      NOT NULL DEFAULT true,
  last_slot    timestamptz  NOT NULL DEFAULT now(),
  last_task_id uuid,
  created_at   timestamptz  NOT NULL DEFAULT now(),
  updated_at   timestamptz  NOT NULL DEFAULT now(),
  CONSTRAINT task_schedules_pkey PRIMARY KEY (name),
  CONSTRAINT task_schedules_name_check CHECK (length(name) BETWEEN 1 AND 200),
  CONSTRAINT task_schedules_queue_check CHECK (length(queue) BETWEEN 1 AND 200)
);

COMMENT ON TABLE task_schedules IS
  'Cron schedules (5 fields, evaluated in timezone). last_slot is the latest slot fired (or the time the schedule was set); a worker fires slot S by a compare-and-set last_slot < S, so each slot runs once however many workers run.';

-- ---------------------------------------------------------------------------
-- Concurrency limits: at most max_running tasks of a queue run at once, across all workers.
-- A claim for a limited queue locks its queue_limits row first, then counts running tasks.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS queue_limits (
  queue       text        NOT NULL,
  max_running integer     NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT queue_limits_pkey PRIMARY KEY (queue),
  CONSTRAINT queue_limits_max_running_check CHECK (max_running >= 0)
);

COMMENT ON TABLE queue_limits IS
  'Cluster-wide limit of running tasks per queue; 0 pauses the queue. Queues without a row are unlimited.';

-- ---------------------------------------------------------------------------
-- cleanup_stale_running_tasks (006) now honours the per-task max_attempts.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION cleanup_stale_running_tasks(
  stale_minutes integer DEFAULT 15,
  max_attempts  integer DEFAULT 3
)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  v_stale_before timestamptz;
  v_requeued     integer;
  v_failed       integer;
BEGIN
  IF stale_minutes IS NULL OR stale_minutes < 0 THEN
    RAISE EXCEPTION 'cleanup_stale_running_tasks: stale_minutes must be an integer >= 0 (got %)',
                    coalesce(stale_minutes::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_attempts IS NULL OR max_attempts < 1 THEN
    RAISE EXCEPTION 'cleanup_stale_running_tasks: max_attempts must be an integer >= 1 (got %)',
                    coalesce(max_attempts::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  v_stale_before := now() - make_interval(mins => stale_minutes);

  WITH stale AS (
    SELECT t.id,
           coalesce(t.max_attempts, cleanup_stale_running_tasks.max_attempts) AS max_att,
           t.attempts < coalesce(t.max_attempts, cleanup_stale_running_tasks.max_attempts) AS may_retry,
           CASE
             WHEN t.lease_expires_at < now() THEN 'lease expired'
             WHEN t.last_heartbeat IS NOT NULL OR t.locked_at IS NOT NULL
               THEN format('no heartbeat for %s minutes', cleanup_stale_running_tasks.stale_minutes)
             ELSE format('no lease, heartbeat or lock, not updated for %s minutes',
                         cleanup_stale_running_tasks.stale_minutes)
           END AS reason
      FROM tasks t
     WHERE t.status = 'running'
       AND (   t.lease_expires_at < now()
            OR coalesce(t.last_heartbeat, t.locked_at) < v_stale_before
            OR (    t.lease_expires_at IS NULL
                AND t.last_heartbeat IS NULL
                AND t.locked_at IS NULL
                AND t.updated_at < v_stale_before))
       FOR UPDATE OF t SKIP LOCKED
  ),
  moved AS (
    UPDATE tasks t
       SET status           = CASE WHEN s.may_retry THEN 'retry'::taskstatus ELSE 'failed'::taskstatus END,
           run_after        = CASE WHEN s.may_retry THEN now() ELSE t.run_after END,
           owner_id         = NULL,
           locked_by        = NULL,
           locked_at        = NULL,
           lease_expires_at = NULL,
           updated_at       = now(),
           error            = concat_ws(' | ', t.error,
                                CASE WHEN s.may_retry
                                  THEN 'requeued by cleanup_stale_running_tasks: ' || s.reason
                                  ELSE format('failed by cleanup_stale_running_tasks: %s; max attempts (%s) reached',
                                              s.reason, s.max_att)
                                END)
      FROM stale s
     WHERE t.id = s.id
       AND t.status = 'running'
    RETURNING s.may_retry
  )
  SELECT count(*) FILTER (WHERE may_retry), count(*) FILTER (WHERE NOT may_retry)
    INTO v_requeued, v_failed
    FROM moved;

  IF v_requeued > 0 THEN
    PERFORM pg_notify('seedcore_tasks', '');
  END IF;

  RETURN v_requeued + v_failed;
END
$$;

COMMENT ON FUNCTION cleanup_stale_running_tasks(integer, integer) IS
  'Recovers running tasks whose lease expired, whose last heartbeat (or claim, if none) is older than stale_minutes, or that have no lease/heartbeat/lock at all and were not updated for stale_minutes. Tasks with attempts < max_attempts (the task''s own max_attempts when set, else the argument) go to retry (run_after = now()), the others to failed; owner/lock/lease columns are cleared and a reason is appended to error. attempts is not incremented (it counts executions started). Returns the total number of tasks recovered (requeued + failed). Notifies seedcore_tasks when something was requeued.';

COMMIT;
