-- 018_durable_runs.sql
--
-- Durable tasks: a crash never repeats completed work, and a task that waits holds no worker.
--
-- * task_runs: one row per execution of a task (claim → outcome), written by a statement
--   trigger on tasks when the execution ends, so every client's outcome statement (the
--   TypeScript dispatcher, the stored worker protocol, psql, recovery of a dead worker's
--   tasks) records it in its own transaction. The running execution is the tasks row.
-- * task_checkpoints: the stored JSON result of each named step of a task, one per (task, name).
-- * task_events: named events, first emit wins; later emits change nothing and say so.
-- * task_waits: what a suspended task waits for (an event, a time, its child tasks).
-- * tasks.waiting_for / tasks.parent_id: a suspended task keeps the seven status labels: it is
--   `queued` with run_after in the future (9999-12-31 when only an event or its children can wake
--   it) and waiting_for saying what for ('sleep', 'event:NAME', 'tasks:N'). parent_id links a
--   child spawned by a durable handler to its parent (with a task_depends_on_task edge too,
--   parent depends on child, so the graph shows the family).
--
-- Suspending gives the claim's attempt back (attempts − 1): suspensions never use up a task's
-- execution budget. Every function called by a worker is a compare-and-set on (id, owner,
-- status = 'running'): a worker that lost its lease changes nothing and gets NULL back.
--
-- Races between a waiter and a waker are closed by transaction-scoped advisory locks, taken
-- first by both sides: (727361018, hash of the event name) for events, (727361019, hash of the
-- parent id) for child tasks. Each statement of a PL/pgSQL function takes a fresh snapshot
-- under READ COMMITTED, so whichever side comes second sees the other's commit.

BEGIN;

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS waiting_for text;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS parent_id uuid;
COMMENT ON COLUMN tasks.waiting_for IS
  'What a suspended (queued) durable task waits for: sleep, event:NAME or tasks:N; NULL otherwise.';
COMMENT ON COLUMN tasks.parent_id IS
  'The durable task that spawned this one (ctx.spawn); no foreign key: a child may outlive its parent''s row.';
CREATE INDEX IF NOT EXISTS idx_tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_tasks_waiting ON tasks (waiting_for) WHERE waiting_for IS NOT NULL;

-- Written once per execution, when it ends (one insert, no update: the hot path pays one
-- index entry per run). The open run of a running task is the tasks row itself (owner_id,
-- locked_at, attempts); readers add it (see the task runs route).
CREATE TABLE IF NOT EXISTS task_runs (
  -- No foreign key: its per-row check would be most of the hot path's cost; the statement
  -- trigger trg_tasks_runs_delete removes a deleted task's runs instead.
  task_id    uuid        NOT NULL,
  type       text        NOT NULL,
  attempt    integer     NOT NULL,
  owner_id   text,
  started_at timestamptz NOT NULL,
  ended_at   timestamptz NOT NULL DEFAULT now(),
  -- completed | failed | retry | cancelled | suspended | released (handed back before it
  -- started, or moved by a client outside the protocol)
  outcome    text        NOT NULL,
  error      text,
  duration_seconds double precision GENERATED ALWAYS AS (extract(epoch FROM ended_at - started_at)) STORED
);
COMMENT ON TABLE task_runs IS 'One row per ended execution of a task (claim to outcome); the running one is the tasks row.';
CREATE INDEX IF NOT EXISTS idx_task_runs_task ON task_runs (task_id, ended_at);
-- BRIN: runs are appended in ended_at order, so a block-range index serves "runs of the last
-- minutes" (metrics) for almost no cost per insert.
CREATE INDEX IF NOT EXISTS idx_task_runs_ended ON task_runs USING brin (ended_at);

CREATE TABLE IF NOT EXISTS task_checkpoints (
  task_id    uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
  result     jsonb       NOT NULL DEFAULT 'null'::jsonb,
  attempt    integer     NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, name)
);
COMMENT ON TABLE task_checkpoints IS 'The stored JSON result of each completed named step of a durable task.';

CREATE TABLE IF NOT EXISTS task_events (
  name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 500),
  payload    jsonb       NOT NULL DEFAULT 'null'::jsonb,
  emitted_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE task_events IS 'Named events for durable tasks; the first emit of a name wins and later emits are no-ops.';
CREATE INDEX IF NOT EXISTS idx_task_events_emitted ON task_events (emitted_at);

CREATE TABLE IF NOT EXISTS task_waits (
  task_id    uuid        PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
  kind       text        NOT NULL CHECK (kind IN ('sleep', 'event', 'tasks')),
  event_name text,
  child_ids  uuid[],
  wake_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'event') = (event_name IS NOT NULL)),
  CHECK ((kind = 'tasks') = (child_ids IS NOT NULL))
);
COMMENT ON TABLE task_waits IS 'What a suspended durable task waits for: an event (optionally until wake_at), a time, or its child tasks.';
CREATE INDEX IF NOT EXISTS idx_task_waits_event ON task_waits (event_name) WHERE event_name IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Triggers on tasks.
-- ---------------------------------------------------------------------------

-- A task that leaves `queued` waits for nothing any more. BEFORE ROW with a WHEN clause: the
-- condition is checked without calling a function, so rows that never waited cost nothing.
CREATE OR REPLACE FUNCTION tasks_clear_waiting_for()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.waiting_for := NULL;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER trg_tasks_clear_waiting_for
  BEFORE UPDATE ON tasks
  FOR EACH ROW
  WHEN (OLD.waiting_for IS NOT NULL AND NEW.status <> 'queued')
  EXECUTE FUNCTION tasks_clear_waiting_for();

-- Status transitions, set-wise per statement: record the run of every task that stops
-- running; wake parents whose children have all ended (or one failed); cancel the
-- unfinished children of cancelled parents.
CREATE OR REPLACE FUNCTION tasks_durable_transitions()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_parents uuid[];
  v_cancelled uuid[];
BEGIN
  -- Cheap scans of one transition table first: a claim has no running old row, so it skips
  -- the join; a completion of tasks without parents skips the second part.
  -- `SET seedcore.task_runs = 'off'` (per session, role or database) skips the run history:
  -- about 4 us of server CPU per task, 10-15 % of a raw claim+complete loop.
  IF EXISTS (SELECT 1 FROM old_rows WHERE status = 'running') AND coalesce(current_setting('seedcore.task_runs', true), '') <> 'off' THEN
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

-- Wake the given parents that wait for their children (task_waits kind 'tasks') when all the
-- awaited children have ended or one of them failed or was cancelled. The advisory lock per
-- parent (taken in id order: no deadlock between wakers) orders this against
-- await_child_tasks, which takes it first too.
CREATE OR REPLACE FUNCTION wake_task_parents(p_parents uuid[])
RETURNS integer
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_parent uuid;
  v_n integer;
BEGIN
  FOR v_parent IN SELECT DISTINCT p FROM unnest(p_parents) AS p ORDER BY p LOOP
    PERFORM pg_advisory_xact_lock(727361019, hashtext(v_parent::text));
  END LOOP;
  WITH ready AS (
    SELECT w.task_id FROM task_waits w
     WHERE w.task_id = ANY (p_parents) AND w.kind = 'tasks'
       AND (NOT EXISTS (SELECT 1 FROM tasks c WHERE c.id = ANY (w.child_ids) AND c.status NOT IN ('completed', 'failed', 'cancelled'))
            OR EXISTS (SELECT 1 FROM tasks c WHERE c.id = ANY (w.child_ids) AND c.status IN ('failed', 'cancelled')))
  ),
  gone AS (
    DELETE FROM task_waits w USING ready WHERE w.task_id = ready.task_id RETURNING w.task_id
  )
  UPDATE tasks t SET run_after = now(), waiting_for = NULL, updated_at = now()
    FROM gone WHERE t.id = gone.task_id AND t.status = 'queued';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n > 0 THEN
    PERFORM pg_notify('seedcore_tasks', '');
  END IF;
  RETURN v_n;
END
$$;

COMMENT ON FUNCTION wake_task_parents(uuid[]) IS
  'Make the given parents due when the children they await have all ended (or one failed or was cancelled); returns how many woke.';

CREATE OR REPLACE TRIGGER trg_tasks_durable_transitions
  AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION tasks_durable_transitions();

CREATE OR REPLACE FUNCTION tasks_delete_runs()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  DELETE FROM task_runs r USING old_rows o WHERE r.task_id = o.id;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER trg_tasks_runs_delete
  AFTER DELETE ON tasks
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION tasks_delete_runs();

COMMENT ON TRIGGER trg_tasks_durable_transitions ON tasks IS
  'Run history (task_runs) for every client''s outcome statements; wakes parents of ended children; cancels the children of cancelled parents.';

-- ---------------------------------------------------------------------------
-- Functions a durable worker calls (any language).
-- ---------------------------------------------------------------------------

-- Suspend a running task owned by p_owner: back to `queued`, due at p_run_after (9999-12-31 =
-- only a waker makes it due), the attempt given back. False when the task is no longer ours.
CREATE OR REPLACE FUNCTION suspend_task(p_id uuid, p_owner text, p_run_after timestamptz, p_waiting_for text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
AS $$
BEGIN
  UPDATE tasks t
     SET status = 'queued', attempts = greatest(t.attempts - 1, 0), run_after = p_run_after,
         waiting_for = coalesce(p_waiting_for, 'sleep'), owner_id = NULL, locked_by = NULL, locked_at = NULL,
         lease_expires_at = NULL, updated_at = now()
   WHERE t.id = p_id AND t.owner_id = p_owner AND t.status = 'running';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF p_run_after <= now() THEN
    PERFORM pg_notify('seedcore_tasks', '');
  END IF;
  RETURN true;
END
$$;

COMMENT ON FUNCTION suspend_task(uuid, text, timestamptz, text) IS
  'Suspend a running task owned by p_owner until p_run_after, waiting for p_waiting_for; the attempt is given back. False when no longer ours.';

-- Store the result of step p_name. Returns the stored result (an overlapping execution that
-- stored it first wins, and its result is returned), or NULL when the task is not running
-- under p_owner (nothing is stored). FOR SHARE: recovery or cancel cannot commit in between.
CREATE OR REPLACE FUNCTION save_task_checkpoint(p_id uuid, p_owner text, p_name text, p_result jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_attempt integer;
  v_result jsonb;
BEGIN
  SELECT t.attempts INTO v_attempt FROM tasks t
   WHERE t.id = p_id AND t.owner_id = p_owner AND t.status = 'running' FOR SHARE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  INSERT INTO task_checkpoints (task_id, name, result, attempt)
  VALUES (p_id, p_name, coalesce(p_result, 'null'::jsonb), v_attempt)
  ON CONFLICT (task_id, name) DO NOTHING
  RETURNING result INTO v_result;
  IF v_result IS NULL THEN
    SELECT c.result INTO v_result FROM task_checkpoints c WHERE c.task_id = p_id AND c.name = p_name;
  END IF;
  RETURN v_result;
END
$$;

COMMENT ON FUNCTION save_task_checkpoint(uuid, text, text, jsonb) IS
  'Store step p_name''s result for a running task owned by p_owner; returns the stored result (first writer wins) or NULL when no longer ours.';

-- Durable sleep, as step p_name (its checkpoint keeps the wake time, so re-running the handler
-- after the wake does not sleep again). {"status":"done"} when the time has come,
-- {"status":"suspended","wake_at":…} after suspending, NULL when no longer ours.
CREATE OR REPLACE FUNCTION sleep_task(p_id uuid, p_owner text, p_name text, p_seconds double precision, p_until timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_attempt integer;
  v_wake timestamptz;
BEGIN
  SELECT t.attempts INTO v_attempt FROM tasks t
   WHERE t.id = p_id AND t.owner_id = p_owner AND t.status = 'running' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT (c.result ->> 'wake_at')::timestamptz INTO v_wake FROM task_checkpoints c WHERE c.task_id = p_id AND c.name = p_name;
  IF NOT FOUND THEN
    v_wake := coalesce(p_until, now() + make_interval(secs => greatest(coalesce(p_seconds, 0), 0)));
    INSERT INTO task_checkpoints (task_id, name, result, attempt)
    VALUES (p_id, p_name, jsonb_build_object('wake_at', v_wake), v_attempt);
  END IF;
  IF v_wake <= now() THEN
    DELETE FROM task_waits w WHERE w.task_id = p_id AND w.kind = 'sleep';
    RETURN jsonb_build_object('status', 'done');
  END IF;
  INSERT INTO task_waits (task_id, kind, wake_at) VALUES (p_id, 'sleep', v_wake)
  ON CONFLICT (task_id) DO UPDATE SET kind = 'sleep', event_name = NULL, child_ids = NULL, wake_at = EXCLUDED.wake_at, created_at = now();
  PERFORM suspend_task(p_id, p_owner, v_wake, 'sleep');
  RETURN jsonb_build_object('status', 'suspended', 'wake_at', v_wake);
END
$$;

COMMENT ON FUNCTION sleep_task(uuid, text, text, double precision, timestamptz) IS
  'Durable sleep as step p_name for p_seconds (or until p_until): done, or suspended until the stored wake time; NULL when no longer ours.';

-- Emit event p_name once. True when this call emitted it; false when it had been emitted
-- (the first payload stays). Wakes every task waiting for it.
CREATE OR REPLACE FUNCTION emit_task_event(p_name text, p_payload jsonb DEFAULT 'null'::jsonb)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_woken integer;
BEGIN
  PERFORM pg_advisory_xact_lock(727361018, hashtext(p_name));
  INSERT INTO task_events (name, payload) VALUES (p_name, coalesce(p_payload, 'null'::jsonb))
  ON CONFLICT (name) DO NOTHING;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  WITH gone AS (
    DELETE FROM task_waits w WHERE w.kind = 'event' AND w.event_name = p_name RETURNING w.task_id
  )
  UPDATE tasks t SET run_after = now(), waiting_for = NULL, updated_at = now()
    FROM gone WHERE t.id = gone.task_id AND t.status = 'queued';
  GET DIAGNOSTICS v_woken = ROW_COUNT;
  IF v_woken > 0 THEN
    PERFORM pg_notify('seedcore_tasks', '');
  END IF;
  RETURN true;
END
$$;

COMMENT ON FUNCTION emit_task_event(text, jsonb) IS
  'Emit event p_name with p_payload; true when this call won (first emit), false when already emitted. Wakes its waiters.';

-- Wait for event p_name: {"status":"emitted","payload":…} when it has been emitted (before or
-- after the wait began), {"status":"timeout"} when the wait's time ran out,
-- {"status":"suspended"} after suspending, NULL when no longer ours.
CREATE OR REPLACE FUNCTION await_task_event(p_id uuid, p_owner text, p_name text, p_timeout_seconds double precision DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_event task_events%ROWTYPE;
  v_wait task_waits%ROWTYPE;
  v_wake timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(727361018, hashtext(p_name));
  PERFORM 1 FROM tasks t WHERE t.id = p_id AND t.owner_id = p_owner AND t.status = 'running' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT * INTO v_event FROM task_events e WHERE e.name = p_name;
  IF FOUND THEN
    DELETE FROM task_waits w WHERE w.task_id = p_id;
    RETURN jsonb_build_object('status', 'emitted', 'payload', v_event.payload, 'emitted_at', v_event.emitted_at);
  END IF;
  SELECT * INTO v_wait FROM task_waits w WHERE w.task_id = p_id AND w.kind = 'event' AND w.event_name = p_name;
  IF FOUND THEN
    IF v_wait.wake_at IS NOT NULL AND v_wait.wake_at <= now() THEN
      DELETE FROM task_waits w WHERE w.task_id = p_id;
      RETURN jsonb_build_object('status', 'timeout');
    END IF;
    v_wake := v_wait.wake_at;
  ELSIF p_timeout_seconds IS NOT NULL THEN
    v_wake := now() + make_interval(secs => greatest(p_timeout_seconds, 0));
  END IF;
  INSERT INTO task_waits (task_id, kind, event_name, wake_at) VALUES (p_id, 'event', p_name, v_wake)
  ON CONFLICT (task_id) DO UPDATE SET kind = 'event', event_name = p_name, child_ids = NULL, wake_at = EXCLUDED.wake_at, created_at = now();
  PERFORM suspend_task(p_id, p_owner, coalesce(v_wake, '9999-12-31 00:00:00+00'::timestamptz), 'event:' || p_name);
  RETURN jsonb_build_object('status', 'suspended', 'wake_at', v_wake);
END
$$;

COMMENT ON FUNCTION await_task_event(uuid, text, text, double precision) IS
  'Wait for event p_name (optionally at most p_timeout_seconds): emitted with its payload, timeout, or suspended; NULL when no longer ours.';

-- Spawn a child task as step p_name (re-running the parent returns the same child). p_options
-- keys: queue, priority, maxAttempts, timeoutSeconds, description, domain. NULL when the
-- parent is no longer ours.
CREATE OR REPLACE FUNCTION spawn_child_task(p_parent uuid, p_owner text, p_name text, p_type text, p_params jsonb DEFAULT '{}'::jsonb, p_options jsonb DEFAULT '{}'::jsonb)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_attempt integer;
  v_child uuid;
  v_o jsonb := coalesce(p_options, '{}'::jsonb);
BEGIN
  SELECT t.attempts INTO v_attempt FROM tasks t
   WHERE t.id = p_parent AND t.owner_id = p_owner AND t.status = 'running' FOR SHARE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT (c.result ->> 'id')::uuid INTO v_child FROM task_checkpoints c WHERE c.task_id = p_parent AND c.name = p_name;
  IF FOUND THEN
    RETURN v_child;
  END IF;
  INSERT INTO tasks (type, params, status, queue, priority, max_attempts, timeout_seconds, description, domain, parent_id)
  VALUES (p_type, coalesce(p_params, '{}'::jsonb), 'queued', coalesce(v_o ->> 'queue', 'default'),
          coalesce(v_o ->> 'priority', 'normal')::taskpriority, (v_o ->> 'maxAttempts')::integer,
          (v_o ->> 'timeoutSeconds')::double precision, v_o ->> 'description', v_o ->> 'domain', p_parent)
  RETURNING id INTO v_child;
  INSERT INTO task_depends_on_task (src_task_id, dst_task_id) VALUES (p_parent, v_child) ON CONFLICT DO NOTHING;
  INSERT INTO task_checkpoints (task_id, name, result, attempt) VALUES (p_parent, p_name, jsonb_build_object('id', v_child), v_attempt);
  RETURN v_child;
END
$$;

COMMENT ON FUNCTION spawn_child_task(uuid, text, text, text, jsonb, jsonb) IS
  'Spawn a child task (queued, parent_id set, task_depends_on_task edge) as step p_name of a running parent owned by p_owner; the same child on re-run; NULL when no longer ours.';

-- Wait for child tasks: {"status":"completed","results":[…in p_children order]} when all
-- completed, {"status":"failed","child":id,"child_status":…,"error":…} when one failed or was
-- cancelled, {"status":"suspended","pending":n} after suspending, {"status":"invalid","child":id}
-- when an id is not a child of the task, NULL when no longer ours.
CREATE OR REPLACE FUNCTION await_child_tasks(p_id uuid, p_owner text, p_children uuid[])
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_bad uuid;
  v_failed record;
  v_pending integer;
BEGIN
  PERFORM pg_advisory_xact_lock(727361019, hashtext(p_id::text));
  PERFORM 1 FROM tasks t WHERE t.id = p_id AND t.owner_id = p_owner AND t.status = 'running' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT u.id INTO v_bad FROM unnest(p_children) AS u(id)
   WHERE NOT EXISTS (SELECT 1 FROM tasks c WHERE c.id = u.id AND c.parent_id = p_id) LIMIT 1;
  IF FOUND THEN
    RETURN jsonb_build_object('status', 'invalid', 'child', v_bad);
  END IF;
  SELECT c.id, c.status::text AS status, c.error INTO v_failed FROM tasks c
   WHERE c.id = ANY (p_children) AND c.status IN ('failed', 'cancelled') ORDER BY c.updated_at, c.id LIMIT 1;
  IF FOUND THEN
    DELETE FROM task_waits w WHERE w.task_id = p_id;
    RETURN jsonb_build_object('status', 'failed', 'child', v_failed.id, 'child_status', v_failed.status, 'error', v_failed.error);
  END IF;
  SELECT count(*) INTO v_pending FROM tasks c WHERE c.id = ANY (p_children) AND c.status <> 'completed';
  IF v_pending = 0 THEN
    DELETE FROM task_waits w WHERE w.task_id = p_id;
    RETURN jsonb_build_object('status', 'completed', 'results',
             (SELECT coalesce(jsonb_agg(c.result ORDER BY u.ord), '[]'::jsonb)
                FROM unnest(p_children) WITH ORDINALITY AS u(id, ord) JOIN tasks c ON c.id = u.id));
  END IF;
  INSERT INTO task_waits (task_id, kind, child_ids) VALUES (p_id, 'tasks', p_children)
  ON CONFLICT (task_id) DO UPDATE SET kind = 'tasks', event_name = NULL, child_ids = EXCLUDED.child_ids, wake_at = NULL, created_at = now();
  PERFORM suspend_task(p_id, p_owner, '9999-12-31 00:00:00+00'::timestamptz, 'tasks:' || v_pending);
  RETURN jsonb_build_object('status', 'suspended', 'pending', v_pending);
END
$$;

COMMENT ON FUNCTION await_child_tasks(uuid, text, uuid[]) IS
  'Wait for child tasks of a running task owned by p_owner: completed with all results, failed naming the child, or suspended until they end; NULL when no longer ours.';

COMMIT;
