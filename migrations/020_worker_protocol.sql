-- 020_worker_protocol.sql
--
-- The worker protocol as stored functions, so a worker in any language (psql, Python, Go, …)
-- gets the guarantees of the TypeScript dispatcher by calling them:
--
--   claim_tasks(owner, limit, lease_seconds, types, queues, aging_seconds) → the claimed rows
--   renew_task_leases(owner, ids, lease_seconds)                         → the ids renewed
--   complete_task(id, owner, result)                                     → true when written
--   complete_tasks(owner, {id: result, …})                               → the ids written (batch)
--   fail_task(id, owner, error, retry_delay_seconds, max_attempts)       → 'retry' | 'failed' | NULL
--   release_task(id, owner)                                              → true when handed back
--   cancel_task(id, reason)                                              → true when cancelled
--   recover_stale_tasks(max_attempts, limit, dead_owners)                → (id, new status) moved
--   expire_tasks(limit)                                                  → the ids cancelled (window closed)
--   promote_task_dependents(ids) / cancel_task_dependents(ids)           → dependency propagation
--
-- Every state change by a worker is a compare-and-set on (id, owner_id, status = 'running'):
-- a worker whose lease was taken over, or whose task was cancelled, changes nothing.
--
-- KEEP IN STEP: these bodies port the statements of src/tasks/claim.ts, worker-sql.ts,
-- dependencies.ts and the defaults of backoff.ts / dispatcher-options.ts (max attempts 3,
-- backoff 1 s · 2^(attempts−1) capped at 300 s with ±20 % jitter, aging 300 s). Until the
-- TypeScript dispatcher calls these functions, a change to either side must be made to both.
--
-- Also: a jsonb → vector cast, so the original clients' embedding upsert
-- `INSERT INTO graph_embeddings (node_id, emb, …) VALUES (:nid, (:vec)::jsonb::vector, …)`
-- succeeds (pgvector has no such cast).

BEGIN;

-- ---------------------------------------------------------------------------
-- Dependency propagation (task_depends_on_task: src depends on dst).
-- ---------------------------------------------------------------------------

-- Queue the `created` dependents of p_ids whose dependencies are now all completed. Two
-- statements on purpose: the first locks the candidates (in id order: two completers cannot
-- deadlock); the second takes a fresh snapshot after the locks were granted, so when two
-- siblings complete concurrently the later one sees the earlier commit (no lost fan-in).
CREATE OR REPLACE FUNCTION promote_task_dependents(p_ids uuid[])
RETURNS integer
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_locked uuid[];
  v_n integer;
BEGIN
  SELECT array_agg(l.id) INTO v_locked
    FROM (SELECT d.id FROM tasks d
           WHERE d.id IN (SELECT e.src_task_id FROM task_depends_on_task e WHERE e.dst_task_id = ANY (p_ids))
             AND d.status = 'created'
           ORDER BY d.id
             FOR UPDATE) l;
  IF v_locked IS NULL THEN
    RETURN 0;
  END IF;
  UPDATE tasks d SET status = 'queued', updated_at = now()
   WHERE d.id = ANY (v_locked) AND d.status = 'created'
     AND NOT EXISTS (SELECT 1 FROM task_depends_on_task e JOIN tasks p ON p.id = e.dst_task_id
                      WHERE e.src_task_id = d.id AND p.status <> 'completed');
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n > 0 THEN
    PERFORM pg_notify('seedcore_tasks', '');
  END IF;
  RETURN v_n;
END
$$;

COMMENT ON FUNCTION promote_task_dependents(uuid[]) IS
  'Queue the created dependents of the given (just completed) tasks whose dependencies are all completed; returns how many.';

-- Cancel, transitively, every `created` task that depends on one of p_ids (tasks that just
-- ended failed or cancelled); the error names the dependency and how it ended.
CREATE OR REPLACE FUNCTION cancel_task_dependents(p_ids uuid[])
RETURNS SETOF uuid
LANGUAGE sql
VOLATILE
AS $$
  WITH RECURSIVE dep(id, root) AS (
    SELECT e.src_task_id, e.dst_task_id FROM task_depends_on_task e WHERE e.dst_task_id = ANY (p_ids)
    UNION
    SELECT e.src_task_id, dep.root FROM task_depends_on_task e JOIN dep ON e.dst_task_id = dep.id
  ),
  victim AS (
    SELECT DISTINCT ON (dep.id) dep.id, dep.root, r.status AS root_status
      FROM dep JOIN tasks r ON r.id = dep.root
     ORDER BY dep.id, dep.root
  )
  UPDATE tasks t
     SET status = 'cancelled', updated_at = now(), lease_expires_at = NULL,
         error = concat_ws(' | ', t.error, format('cancelled: dependency %s ended %s', v.root, v.root_status))
    FROM victim v
   WHERE t.id = v.id AND t.status = 'created'
  RETURNING t.id
$$;

COMMENT ON FUNCTION cancel_task_dependents(uuid[]) IS
  'Cancel, transitively, the created dependents of the given (just failed or cancelled) tasks; returns their ids.';

-- ---------------------------------------------------------------------------
-- Claim.
-- ---------------------------------------------------------------------------

-- Order: effective priority, then due time (coalesce(run_after, created_at)), then age.
-- Effective priority = level (critical 0 … low 3) minus one level per p_aging_seconds the task
-- has been due, floored at 0 (0 = strict priority). Per served (queue, priority) one locked
-- range scan of idx_tasks_claim (SKIP LOCKED) yields candidates; the best p_limit are kept,
-- at most the free slots of each limited queue. attempts + 1: executions started.
--
-- The queue_limits rows of the served limited queues are locked first (in name order: no
-- deadlock between claimers); the claim statement then runs with a fresh snapshot, so the
-- running counts it sees include every earlier claimer's commit (never over-claimed).
--
-- A claimer whose owner id is a registry instance that is not alive (starting, draining, dead),
-- of an old epoch or silent for longer than the liveness window claims nothing: other workers may already be recovering its
-- tasks, so it must re-register under a new id first. Owners that are not registry instances
-- (a psql session, a script) are not checked.
CREATE OR REPLACE FUNCTION claim_tasks(
  p_owner text,
  p_limit integer,
  p_lease_seconds double precision DEFAULT 30,
  p_types text[] DEFAULT NULL,
  p_queues text[] DEFAULT ARRAY['default'],
  p_aging_seconds double precision DEFAULT 300)
RETURNS SETOF tasks
LANGUAGE plpgsql
VOLATILE
AS $$
BEGIN
  IF p_owner IS NULL OR p_owner = '' THEN
    RAISE EXCEPTION 'claim_tasks: p_owner must be a non-empty text' USING ERRCODE = '22023';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds <= 0 THEN
    RAISE EXCEPTION 'claim_tasks: p_lease_seconds must be > 0' USING ERRCODE = '22023';
  END IF;
  IF p_aging_seconds IS NULL OR p_aging_seconds < 0 THEN
    RAISE EXCEPTION 'claim_tasks: p_aging_seconds must be >= 0' USING ERRCODE = '22023';
  END IF;
  IF p_limit IS NULL OR p_limit < 1 OR p_queues IS NULL THEN
    RETURN;
  END IF;
  IF p_owner ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' AND EXISTS (
       SELECT 1 FROM registry_instance ri LEFT JOIN cluster_metadata cm ON cm.id = 1
        WHERE ri.instance_id = p_owner::uuid
          AND (ri.status <> 'alive'
               OR ri.cluster_epoch IS DISTINCT FROM cm.current_epoch
               OR ri.last_heartbeat < now() - make_interval(secs => coalesce(cm.liveness_seconds, 15)))) THEN
    RETURN;
  END IF;

  PERFORM l.queue FROM queue_limits l WHERE l.queue = ANY (p_queues) ORDER BY l.queue FOR UPDATE;

  RETURN QUERY
  WITH qs AS MATERIALIZED (
    SELECT q.name,
           CASE WHEN l.queue IS NULL THEN p_limit
                ELSE greatest(0, l.max_running - (SELECT count(*)::int FROM tasks r WHERE r.status = 'running' AND r.queue = q.name)) END AS slots
      FROM (SELECT DISTINCT u.name FROM unnest(p_queues) AS u(name)) q
      LEFT JOIN queue_limits l ON l.queue = q.name
  ),
  cand AS MATERIALIZED (
    SELECT c.tid, c.queue, c.due, c.created_at,
           greatest(0, p.lvl - 1 - CASE WHEN p_aging_seconds > 0 THEN floor(extract(epoch FROM now() - c.due) / p_aging_seconds)::int ELSE 0 END) AS eff
      FROM qs
     CROSS JOIN unnest(enum_range(NULL::taskpriority)) WITH ORDINALITY AS p(pr, lvl)
     CROSS JOIN LATERAL (
       SELECT t.ctid AS tid, t.queue, coalesce(t.run_after, t.created_at) AS due, t.created_at
         FROM tasks t
        WHERE t.status IN ('queued', 'retry') AND t.queue = qs.name AND t.priority = p.pr
          AND coalesce(t.run_after, t.created_at) <= now()
          AND (p_types IS NULL OR t.type = ANY (p_types))
          AND (t.expires_at IS NULL OR t.expires_at > now())
        ORDER BY coalesce(t.run_after, t.created_at), t.created_at
        LIMIT least(p_limit, qs.slots)
          FOR UPDATE SKIP LOCKED) c
     WHERE qs.slots > 0
  ),
  pick AS (
    SELECT r.tid FROM (
      SELECT cand.*, row_number() OVER (PARTITION BY cand.queue ORDER BY cand.eff, cand.due, cand.created_at) AS nq FROM cand) r
      JOIN qs ON qs.name = r.queue
     WHERE r.nq <= qs.slots
     ORDER BY r.eff, r.due, r.created_at
     LIMIT p_limit
  )
  UPDATE tasks t
     SET status = 'running', owner_id = p_owner, locked_by = p_owner, locked_at = now(), last_heartbeat = now(),
         lease_expires_at = now() + make_interval(secs => p_lease_seconds), attempts = t.attempts + 1, updated_at = now()
   WHERE t.ctid = ANY (ARRAY(SELECT pick.tid FROM pick)) AND t.status IN ('queued', 'retry')
  RETURNING t.*;
END
$$;

COMMENT ON FUNCTION claim_tasks(text, integer, double precision, text[], text[], double precision) IS
  'Claim up to p_limit due tasks for p_owner (priority with aging, queue limits, windows, SKIP LOCKED); attempts + 1; returns the claimed rows.';

-- ---------------------------------------------------------------------------
-- Leases and outcomes (compare-and-set on owner and status).
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION renew_task_leases(p_owner text, p_ids uuid[], p_lease_seconds double precision)
RETURNS SETOF uuid
LANGUAGE plpgsql
VOLATILE
AS $$
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds <= 0 THEN
    RAISE EXCEPTION 'renew_task_leases: p_lease_seconds must be > 0' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  UPDATE tasks t
     SET lease_expires_at = now() + make_interval(secs => p_lease_seconds), last_heartbeat = now(), updated_at = now()
   WHERE t.id = ANY (p_ids) AND t.owner_id = p_owner AND t.status = 'running'
  RETURNING t.id;
END
$$;

COMMENT ON FUNCTION renew_task_leases(text, uuid[], double precision) IS
  'Renew the leases of the given running tasks owned by p_owner; returns the ids renewed (a missing id is no longer ours).';

-- Complete: false when the task is not running under p_owner (lease lost, cancelled). The
-- dependents it releases are queued in the same transaction.
CREATE OR REPLACE FUNCTION complete_task(p_id uuid, p_owner text, p_result jsonb)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
AS $$
BEGIN
  UPDATE tasks t
     SET status = 'completed', result = p_result, error = NULL, owner_id = NULL, locked_by = NULL,
         locked_at = NULL, lease_expires_at = NULL, updated_at = now()
   WHERE t.id = p_id AND t.owner_id = p_owner AND t.status = 'running';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF EXISTS (SELECT 1 FROM task_depends_on_task e WHERE e.dst_task_id = p_id) THEN
    PERFORM promote_task_dependents(ARRAY[p_id]);
  END IF;
  RETURN true;
END
$$;

COMMENT ON FUNCTION complete_task(uuid, text, jsonb) IS
  'Complete a running task owned by p_owner with p_result and queue the dependents it releases; false when the task is no longer ours.';

-- Complete many tasks of one owner in one statement (one trigger firing, one round trip):
-- p_results is a JSON object {task id: result}. Returns the ids written; the others are no
-- longer ours. The same compare-and-set and dependent release as complete_task.
CREATE OR REPLACE FUNCTION complete_tasks(p_owner text, p_results jsonb)
RETURNS SETOF uuid
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_done uuid[];
  v_with_deps uuid[];
BEGIN
  WITH done AS (
    UPDATE tasks t
       SET status = 'completed', result = p_results -> t.id::text, error = NULL, owner_id = NULL, locked_by = NULL,
           locked_at = NULL, lease_expires_at = NULL, updated_at = now()
     WHERE t.id IN (SELECT k::uuid FROM jsonb_object_keys(p_results) AS k) AND t.owner_id = p_owner AND t.status = 'running'
    RETURNING t.id)
  SELECT array_agg(done.id) INTO v_done FROM done;
  IF v_done IS NULL THEN
    RETURN;
  END IF;
  SELECT array_agg(DISTINCT e.dst_task_id) INTO v_with_deps FROM task_depends_on_task e WHERE e.dst_task_id = ANY (v_done);
  IF v_with_deps IS NOT NULL THEN
    PERFORM promote_task_dependents(v_with_deps);
  END IF;
  RETURN QUERY SELECT unnest(v_done);
END
$$;

COMMENT ON FUNCTION complete_tasks(text, jsonb) IS
  'Complete the running tasks of p_owner named by the keys of p_results (id -> result) and queue the dependents they release; returns the ids written.';

-- Fail an attempt: 'retry' (run_after = now() + delay) while attempts < max, else 'failed'
-- (and its waiting dependents cancelled, transitively). NULL when the task is no longer ours.
-- Delay: p_retry_delay_seconds, or by default 1 s · 2^(attempts − 1) with ±20 % jitter, capped
-- at 300 s. Max: the task's own max_attempts, else p_max_attempts; p_max_attempts <= 0 fails
-- the task without retry (a permanent error).
CREATE OR REPLACE FUNCTION fail_task(
  p_id uuid,
  p_owner text,
  p_error text,
  p_retry_delay_seconds double precision DEFAULT NULL,
  p_max_attempts integer DEFAULT 3)
RETURNS text
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_attempts integer;
  v_own_max integer;
  v_max integer;
  v_delay double precision;
BEGIN
  SELECT t.attempts, t.max_attempts INTO v_attempts, v_own_max
    FROM tasks t
   WHERE t.id = p_id AND t.owner_id = p_owner AND t.status = 'running'
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  v_max := CASE WHEN coalesce(p_max_attempts, 3) <= 0 THEN 0 ELSE coalesce(v_own_max, p_max_attempts, 3) END;
  IF v_attempts >= v_max THEN
    UPDATE tasks t
       SET status = 'failed', error = left(p_error, 10000), owner_id = NULL, locked_by = NULL, locked_at = NULL,
           lease_expires_at = NULL, updated_at = now()
     WHERE t.id = p_id;
    PERFORM cancel_task_dependents(ARRAY[p_id]);
    RETURN 'failed';
  END IF;
  -- (greatest() ignores NULL, hence the CASE.)
  v_delay := CASE WHEN p_retry_delay_seconds IS NOT NULL THEN greatest(p_retry_delay_seconds, 0)
                  ELSE least(300.0, least(300.0, power(2, greatest(v_attempts - 1, 0))) * (0.8 + 0.4 * random())) END;
  UPDATE tasks t
     SET status = 'retry', run_after = now() + make_interval(secs => v_delay), error = left(p_error, 10000),
         owner_id = NULL, locked_by = NULL, locked_at = NULL, lease_expires_at = NULL, updated_at = now()
   WHERE t.id = p_id;
  PERFORM pg_notify('seedcore_tasks', '');
  RETURN 'retry';
END
$$;

COMMENT ON FUNCTION fail_task(uuid, text, text, double precision, integer) IS
  'Record a failed attempt of a running task owned by p_owner: retry with backoff while attempts < max, else failed (dependents cancelled); NULL when no longer ours.';

-- Hand back a claimed task whose handler never started (e.g. buffered when the worker shuts
-- down): `queued` again with the claim's attempt given back and its due time unchanged, so it
-- keeps its place. False when the task is no longer ours.
CREATE OR REPLACE FUNCTION release_task(p_id uuid, p_owner text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
AS $$
BEGIN
  UPDATE tasks t
     SET status = 'queued', attempts = greatest(t.attempts - 1, 0), owner_id = NULL, locked_by = NULL, locked_at = NULL,
         lease_expires_at = NULL, updated_at = now()
   WHERE t.id = p_id AND t.owner_id = p_owner AND t.status = 'running';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM pg_notify('seedcore_tasks', '');
  RETURN true;
END
$$;

COMMENT ON FUNCTION release_task(uuid, text) IS
  'Hand back a running task owned by p_owner whose handler never started: queued again, the attempt given back; false when no longer ours.';

-- Cancel a task that has not ended (any owner), and its waiting dependents. A running task's
-- worker learns it at its next lease renewal (the id is no longer renewed) or at once through
-- NOTIFY seedcore_task_cancel.
CREATE OR REPLACE FUNCTION cancel_task(p_id uuid, p_reason text DEFAULT 'cancelled by request')
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_was_running boolean;
BEGIN
  UPDATE tasks t
     SET status = 'cancelled', lease_expires_at = NULL, updated_at = now(), error = concat_ws(' | ', t.error, p_reason)
   WHERE t.id = p_id AND t.status IN ('created', 'queued', 'retry', 'running')
  RETURNING t.owner_id IS NOT NULL INTO v_was_running;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM cancel_task_dependents(ARRAY[p_id]);
  IF v_was_running THEN
    PERFORM pg_notify('seedcore_task_cancel', p_id::text);
  END IF;
  RETURN true;
END
$$;

COMMENT ON FUNCTION cancel_task(uuid, text) IS
  'Cancel a task that has not ended, and its waiting dependents transitively; false when it had already ended.';

-- Recover running tasks whose lease expired or (p_dead_owners) whose owner is a registry
-- instance that is dead or silent for longer than the liveness window. A compare-and-set on
-- owner and lease, safe from every worker at once. The attempt was counted by the claim and is
-- not counted again. run_after is left as it was: the task keeps its place among the due tasks
-- (its original due time, or created_at), so it runs next instead of after the backlog.
CREATE OR REPLACE FUNCTION recover_stale_tasks(
  p_max_attempts integer DEFAULT 3,
  p_limit integer DEFAULT 500,
  p_dead_owners boolean DEFAULT true)
RETURNS TABLE (id uuid, status text)
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_ids uuid[];
  v_statuses text[];
  v_failed uuid[];
BEGIN
  WITH dead AS (
    SELECT ri.instance_id::text AS owner
      FROM registry_instance ri LEFT JOIN cluster_metadata cm ON cm.id = 1
     WHERE p_dead_owners AND (ri.status = 'dead' OR ri.last_heartbeat < now() - make_interval(secs => coalesce(cm.liveness_seconds, 15)))
  ),
  stale AS (
    SELECT t.id, t.owner_id, t.lease_expires_at, t.lease_expires_at < now() AS expired
      FROM tasks t
     WHERE t.status = 'running'
       AND (t.lease_expires_at < now() OR t.owner_id IN (SELECT dead.owner FROM dead))
     ORDER BY t.lease_expires_at
     LIMIT p_limit
       FOR UPDATE OF t SKIP LOCKED
  ),
  moved AS (
    UPDATE tasks t
       SET status = CASE WHEN t.attempts >= coalesce(t.max_attempts, p_max_attempts) THEN 'failed'::taskstatus ELSE 'retry'::taskstatus END,
           error = concat_ws(' | ', t.error,
                     format('%s (owner %s)%s', CASE WHEN s.expired THEN 'lease expired' ELSE 'owner instance dead' END, s.owner_id,
                            CASE WHEN t.attempts >= coalesce(t.max_attempts, p_max_attempts)
                                 THEN format('; max attempts (%s) reached', coalesce(t.max_attempts, p_max_attempts)) ELSE '' END)),
           owner_id = NULL, locked_by = NULL, locked_at = NULL, lease_expires_at = NULL, updated_at = now()
      FROM stale s
     WHERE t.id = s.id AND t.status = 'running'
       AND t.owner_id IS NOT DISTINCT FROM s.owner_id AND t.lease_expires_at IS NOT DISTINCT FROM s.lease_expires_at
    RETURNING t.id, t.status::text AS status
  )
  SELECT array_agg(moved.id), array_agg(moved.status),
         array_agg(moved.id) FILTER (WHERE moved.status = 'failed')
    INTO v_ids, v_statuses, v_failed
    FROM moved;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;
  IF v_failed IS NOT NULL THEN
    PERFORM cancel_task_dependents(v_failed);
  END IF;
  IF 'retry' = ANY (v_statuses) THEN
    PERFORM pg_notify('seedcore_tasks', '');
  END IF;
  RETURN QUERY SELECT u.id, u.status FROM unnest(v_ids, v_statuses) AS u(id, status);
END
$$;

COMMENT ON FUNCTION recover_stale_tasks(integer, integer, boolean) IS
  'Move running tasks with an expired lease or a dead owner to retry (or failed at max attempts); returns the ids moved and their new status.';

-- Cancel waiting tasks whose window closed (expires_at <= now()): 'cancelled' with 'expired'
-- appended to error, their waiting dependents cancelled too. Safe from every worker at once
-- (SKIP LOCKED and a status re-check). Returns the ids cancelled (not their dependents).
CREATE OR REPLACE FUNCTION expire_tasks(p_limit integer DEFAULT 500)
RETURNS SETOF uuid
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_ids uuid[];
BEGIN
  WITH x AS (
    SELECT t.id FROM tasks t
     WHERE t.expires_at IS NOT NULL AND t.expires_at <= now() AND t.status IN ('created', 'queued', 'retry')
     ORDER BY t.expires_at LIMIT p_limit
       FOR UPDATE SKIP LOCKED),
  moved AS (
    UPDATE tasks t SET status = 'cancelled', error = concat_ws(' | ', t.error, 'expired'), updated_at = now()
      FROM x
     WHERE t.id = x.id AND t.status IN ('created', 'queued', 'retry')
    RETURNING t.id)
  SELECT array_agg(moved.id) INTO v_ids FROM moved;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;
  PERFORM cancel_task_dependents(v_ids);
  RETURN QUERY SELECT unnest(v_ids);
END
$$;

COMMENT ON FUNCTION expire_tasks(integer) IS
  'Cancel waiting tasks whose window closed (error ''expired'') and their waiting dependents; returns the ids cancelled.';

-- ---------------------------------------------------------------------------
-- jsonb → vector, for the original clients' `(:vec)::jsonb::vector` upsert. Accepts a JSON
-- array of numbers or a JSON string holding pgvector's text form ('[1,2,3]').
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION jsonb_to_vector(p jsonb)
RETURNS vector
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN jsonb_typeof(p) = 'string' THEN (p #>> '{}')::vector ELSE (p::text)::vector END
$$;

COMMENT ON FUNCTION jsonb_to_vector(jsonb) IS
  'Explicit cast jsonb → vector: a JSON array of numbers, or a string in pgvector text form.';

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_cast WHERE castsource = 'jsonb'::regtype AND casttarget = 'vector'::regtype) THEN
    CREATE CAST (jsonb AS vector) WITH FUNCTION jsonb_to_vector(jsonb);
  END IF;
END
$$;

COMMIT;
