-- 031_run_history_plans.sql
--
-- The run history's insert stays linear in the size of the statement that ends the runs,
-- whatever size the first such statement on a connection had; the deletion of a deleted
-- task's runs uses the index whatever the first delete on a connection was.
--
-- tasks_durable_transitions() (018) records one task_runs row per task that stops running by
-- joining the statement's transition tables, new_rows to old_rows on the task id. PL/pgSQL
-- plans that insert once per connection, at its first execution, and keeps the plan; the
-- planner sizes the transition tables as they are at that moment. When the first statement
-- that ended a run on a connection ended one or a few (a single completion, cancel or
-- failure), the kept plan is a nested loop, and every later statement on that connection
-- compares each new row with each old row: a completion of 500 tasks makes 250,000
-- comparisons, 13x the insert's own cost (about 20 ms instead of 1.5 ms on 2 cores; the raw
-- claim+complete loop of bench/hot-path.ts with BENCH_WARM=small drains at half the rate).
--
-- Now a statement that ends more than 16 runs joins with FULL JOIN, which PostgreSQL executes
-- only as a hash or merge join, never as a nested loop, so its cost grows linearly with the
-- statement whatever plan was kept. The WHERE clause is wrapped in coalesce(…, false) so that
-- it is not strict: a strict condition would let the planner turn the full join back into an
-- inner join. The rows written are those of the inner join (a row that exists on one side
-- only fails the condition). Statements of up to 16 runs keep the inner join: a nested loop
-- over at most 16 × 16 rows is as cheap as building a hash table (which costs a small
-- statement 3-5 µs), so a worker that completes a few tasks at a time pays no more than before.
--
-- Everything else is 018's function unchanged: the same rows, outcomes and errors, the
-- `seedcore.task_runs = off` switch, the waking of parents and the cancelling of children.
--
-- tasks_delete_runs() (018: a deleted task's runs go with it) had the opposite case: it joined
-- old_rows to task_runs, and after a first delete of thousands of tasks on a connection (a
-- prune) the kept plan was a hash join over a sequential scan of all of task_runs, which every
-- later delete on that connection repeated, of one task too (31-43 ms with 200,000 runs
-- instead of 0.02 ms). It now deletes by `task_id = ANY (ARRAY(SELECT id FROM old_rows))`: the
-- plan no longer depends on the size of the first delete, and with task_runs of any size it
-- is the index scan of idx_task_runs_task (the delete of 5,000 tasks' runs there: 9.6 ms
-- instead of 61 ms).
--
-- Idempotent: CREATE OR REPLACE FUNCTION (the triggers trg_tasks_durable_transitions and
-- trg_tasks_runs_delete of 018 call them by name and are left as they are).

BEGIN;

CREATE OR REPLACE FUNCTION tasks_durable_transitions()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_parents uuid[];
  v_cancelled uuid[];
  v_ended integer;
BEGIN
  -- `SET seedcore.task_runs = 'off'` (per session, role or database) skips the run history.
  -- A claim has no running old row: the count is 0 and no insert runs.
  IF coalesce(current_setting('seedcore.task_runs', true), '') <> 'off' THEN
    SELECT count(*) INTO v_ended FROM old_rows WHERE status = 'running';
    IF v_ended > 16 THEN
      -- Hash or merge join only (see the header): linear whatever plan this connection kept.
      INSERT INTO task_runs (task_id, type, attempt, owner_id, started_at, outcome, error)
      SELECT n.id, n.type, o.attempts, o.owner_id, coalesce(o.locked_at, o.updated_at),
             CASE WHEN n.status = 'queued' AND n.waiting_for IS NOT NULL THEN 'suspended'
                  WHEN n.status IN ('queued', 'created') THEN 'released'
                  ELSE n.status::text END,
             CASE WHEN n.status IN ('failed', 'retry', 'cancelled') AND n.error IS DISTINCT FROM o.error THEN
                  CASE WHEN o.error IS NOT NULL AND starts_with(n.error, o.error || ' | ')
                       THEN substr(n.error, length(o.error) + 4) ELSE n.error END END
        FROM new_rows n FULL JOIN old_rows o ON o.id = n.id
       WHERE coalesce(o.status = 'running' AND n.status <> 'running', false);
    ELSIF v_ended > 0 THEN
      INSERT INTO task_runs (task_id, type, attempt, owner_id, started_at, outcome, error)
      SELECT n.id, n.type, o.attempts, o.owner_id, coalesce(o.locked_at, o.updated_at),
             CASE WHEN n.status = 'queued' AND n.waiting_for IS NOT NULL THEN 'suspended'
                  WHEN n.status IN ('queued', 'created') THEN 'released'
                  ELSE n.status::text END,
             CASE WHEN n.status IN ('failed', 'retry', 'cancelled') AND n.error IS DISTINCT FROM o.error THEN
                  CASE WHEN o.error IS NOT NULL AND starts_with(n.error, o.error || ' | ')
                       THEN substr(n.error, length(o.error) + 4) ELSE n.error END END
        FROM new_rows n JOIN old_rows o ON o.id = n.id
       WHERE o.status = 'running' AND n.status <> 'running';
    END IF;
  END IF;
  -- Rows that were already ended are harmless here: waking re-checks, cancelling skips ended children.
  IF EXISTS (SELECT 1 FROM new_rows WHERE status IN ('completed', 'failed', 'cancelled') AND (parent_id IS NOT NULL OR status = 'cancelled')) THEN
    SELECT array_agg(DISTINCT n.parent_id) FILTER (WHERE n.parent_id IS NOT NULL),
           array_agg(n.id) FILTER (WHERE n.status = 'cancelled')
      INTO v_parents, v_cancelled
      FROM new_rows n WHERE n.status IN ('completed', 'failed', 'cancelled');
    IF v_parents IS NOT NULL THEN
      PERFORM wake_task_parents(v_parents);
    END IF;
    IF v_cancelled IS NOT NULL THEN
      DELETE FROM task_waits w WHERE w.task_id = ANY (v_cancelled);
      UPDATE tasks c
         SET status = 'cancelled', lease_expires_at = NULL, updated_at = now(),
             error = concat_ws(' | ', c.error, format('cancelled: parent %s was cancelled', c.parent_id))
       WHERE c.parent_id = ANY (v_cancelled) AND c.status IN ('created', 'queued', 'retry', 'running');
    END IF;
  END IF;
  RETURN NULL;
END
$$;

COMMENT ON FUNCTION tasks_durable_transitions() IS
  'Statement trigger on tasks (018, 031): one task_runs row per task that stopped running (a join that stays linear for any statement size), wakes parents whose children ended, cancels the children of cancelled parents.';

CREATE OR REPLACE FUNCTION tasks_delete_runs()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  DELETE FROM task_runs r WHERE r.task_id = ANY (ARRAY(SELECT o.id FROM old_rows o));
  RETURN NULL;
END
$$;

COMMENT ON FUNCTION tasks_delete_runs() IS
  'Statement trigger on tasks (018, 031): deletes the runs of deleted tasks through idx_task_runs_task, whatever the size of the first delete on a connection.';

COMMIT;
