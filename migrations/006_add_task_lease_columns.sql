-- 006_add_task_lease_columns.sql
--
-- Leases and liveness for running tasks: owner_id, lease_expires_at, last_heartbeat; the
-- index for the lease sweep; stale-task recovery (cleanup_stale_running_tasks); and a
-- NOTIFY on channel 'seedcore_tasks' whenever claimable work is inserted.

BEGIN;

DO $$
DECLARE
  v_col record;
BEGIN
  FOR v_col IN
    SELECT * FROM (VALUES
      ('owner_id',         'text'),
      ('lease_expires_at', 'timestamptz'),
      ('last_heartbeat',   'timestamptz')
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

COMMENT ON COLUMN tasks.owner_id IS 'Lease holder of a running task (worker instance id or any name); free text.';
COMMENT ON COLUMN tasks.lease_expires_at IS 'End of the current lease; a running task past it is presumed abandoned.';
COMMENT ON COLUMN tasks.last_heartbeat IS 'Last heartbeat of the lease holder.';

-- ---------------------------------------------------------------------------
-- Index for the lease sweep (see the index notes in 001).
--   idx_tasks_running (lease_expires_at) WHERE status = 'running'
-- The running set is small, so this one index serves the sweep (expired leases first),
-- owner look-ups (filter over the running rows) and the listing of running tasks.
-- The original's five lease indexes are dropped when found: every heartbeat would have
-- written into all of them.
-- ---------------------------------------------------------------------------
DO $$
DECLARE
  v_name text;
  v_idx  regclass;
BEGIN
  FOREACH v_name IN ARRAY ARRAY['idx_tasks_owner_id', 'idx_tasks_lease_expires_at',
                                'idx_tasks_last_heartbeat', 'idx_tasks_stale_running',
                                'idx_tasks_owner_status'] LOOP
    v_idx := NULL;
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
      ('idx_tasks_running', '(lease_expires_at) WHERE status = ''running''')
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
-- New-work notification. One statement-level trigger: an INSERT statement that adds at
-- least one queued or retry task sends exactly one pg_notify('seedcore_tasks', ''),
-- however many rows it inserted (a bulk insert does not flood listeners). Listeners treat
-- it as a wake-up hint and claim as usual; it carries no payload. Updates do not notify:
-- code that re-queues a task notifies explicitly.
--
-- Why the try-lock: PostgreSQL serialises the commits of all transactions that called
-- pg_notify (a cluster-wide lock held through the commit's WAL flush), which halved the rate
-- of concurrent single-task inserts. Only one inserting transaction at a time needs to
-- notify: one that finds another notifier in flight skips its own NOTIFY and commits in
-- parallel. Dispatchers take one follow-up look shortly after each wake-up (and poll), so a
-- task committed just after the notifier's is still picked up promptly.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasks_notify_new()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE status IN ('queued', 'retry'))
     AND pg_try_advisory_xact_lock(727361003) THEN
    PERFORM pg_notify('seedcore_tasks', '');
  END IF;
  RETURN NULL;
END
$$;

COMMENT ON FUNCTION tasks_notify_new() IS
  'Statement-level trigger function: one pg_notify(''seedcore_tasks'', '''') per INSERT statement that added a queued or retry task, skipped while another inserting transaction holds the notifier lock (advisory key 727361003) so notifying commits do not serialise.';

CREATE OR REPLACE TRIGGER trg_tasks_notify_insert
  AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION tasks_notify_new();

COMMENT ON TRIGGER trg_tasks_notify_insert ON tasks IS
  'Wakes dispatchers (LISTEN seedcore_tasks) when claimable work is inserted; one notification per statement.';

-- ---------------------------------------------------------------------------
-- Stale-task recovery.
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

  -- Lock the stale rows (skipping rows another session is updating right now), then move
  -- them with a compare-and-set on status, so a worker that completes the task in the
  -- meantime wins. attempts counts executions started (the claim increments it), so
  -- recovery does not touch it.
  WITH stale AS (
    SELECT t.id,
           t.attempts < cleanup_stale_running_tasks.max_attempts AS may_retry,
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
                                              s.reason, cleanup_stale_running_tasks.max_attempts)
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
  'Recovers running tasks whose lease expired, whose last heartbeat (or claim, if none) is older than stale_minutes, or that have no lease/heartbeat/lock at all and were not updated for stale_minutes. Tasks with attempts < max_attempts go to retry (run_after = now()), the others to failed; owner/lock/lease columns are cleared and a reason is appended to error. attempts is not incremented (it counts executions started). Returns the total number of tasks recovered (requeued + failed). Notifies seedcore_tasks when something was requeued.';

COMMIT;
