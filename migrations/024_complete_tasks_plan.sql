-- 024: complete_tasks() finds its rows by primary key whatever the statistics say.
--
-- The TypeScript dispatcher completes its batches through complete_tasks() (migration 020),
-- as workers in other languages do. Inside the function the UPDATE runs with a generic plan
-- whose row estimate for the keys of p_results is a constant; with `status = 'running'` in
-- the predicate, statistics taken while few tasks were running make idx_tasks_running look
-- free, and the plan then walks every running task of the table for each batch (and hashes
-- the keys) instead of looking the batch up in the primary key. The dispatcher's own
-- statements avoid this by comparing `status::text`, which no index matches; this version of
-- the function does the same and passes the keys as one array (`id = ANY (…)`). Semantics are
-- unchanged: the same compare-and-set on (id, owner_id, status = 'running'), the same release
-- of dependents in the same statement, the same result.
--
-- Supersedes complete_tasks from 020 (re-running 020 alone restores the older body; 024 after
-- it restores this one). Idempotent: CREATE OR REPLACE of one function.
BEGIN;

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
     WHERE t.id = ANY (ARRAY(SELECT k::uuid FROM jsonb_object_keys(p_results) AS k))
       AND t.owner_id = p_owner AND t.status::text = 'running'
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

COMMIT;
