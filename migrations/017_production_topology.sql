-- 017: production topology.
--
-- Fair recovery: a running task recovered because its lease expired or its worker went silent
-- keeps its due time (run_after unchanged, or created_at when it has none). The attempt was not
-- the task's fault, so it should run next among the due tasks, not after the whole backlog
-- (earlier versions set run_after = now()). The dispatcher's own recovery statement
-- (src/tasks/recovery.ts) does the same.
--
-- Idempotent: CREATE OR REPLACE of one function; no data is changed.
BEGIN;

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
  'Recovers running tasks whose lease expired, whose last heartbeat (or claim, if none) is older than stale_minutes, or that have no lease/heartbeat/lock at all and were not updated for stale_minutes. Tasks with attempts < max_attempts (the task''s own max_attempts when set, else the argument) go to retry keeping their due time (run_after is left as it was, so they keep their place among the due tasks instead of joining the back of the line), the others to failed; owner/lock/lease columns are cleared and a reason is appended to error. attempts is not incremented (it counts executions started). Returns the total number of tasks recovered (requeued + failed). Notifies seedcore_tasks when something was requeued.';

COMMIT;
