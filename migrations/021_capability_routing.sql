-- 021_capability_routing.sql
--
-- The agent layer routes the task layer: tasks may require capabilities (with minimum
-- versions) or be bound to an organ, and the claim hands them only to workers that can serve
-- them.
--
-- * Versions are dotted numbers ('2', '1.4.0'), compared number by number; trailing zero
--   parts do not count ('2' = '2.0' = '2.0.0'). version_key(text) → int[] is the sort key,
--   version_satisfies(have, min) the comparison (min NULL: any version; have NULL counts as
--   version 0, as for an organ_provides_capability edge written without a version).
-- * task_uses_capability.min_version:
--   the minimum a task requires (NULL: any). The constraint lives on the edge, next to the
--   capability it constrains.
-- * tasks.requires (text[]) and tasks.route_organ (text) copy a task's routing constraints onto
--   its row, so the claim stays one index-served statement: requires holds constraints
--   'name' or 'name>=min' (sorted by name; NULL: none), route_organ the organ the submitter
--   bound the task to through SeedCore's API (NULL: none). A binding written only as a
--   task_executed_by_organ edge (the seed's create_graph_*_task_v2 functions, the original's
--   clients, the demo data) is a label and does not route.
-- * A bound task is routed to its organ while that organ is live (an alive registry instance
--   of the current epoch, within the liveness window, whose logical id is the organ id); while
--   none is, any worker that meets its requirements may take it, so a binding never strands
--   work.
-- * Indexes: idx_tasks_claim now covers only unrouted waiting tasks (a worker that is no organ
--   reads exactly what it read before); idx_tasks_claim_routed covers the routed ones, keyed
--   first by the route key 'organ:ID' (bound) or 'cap:NAME' (the first required capability),
--   so an organ's claim reads only the keys it can serve.
-- * claim_tasks gains an overload with p_organ and p_capabilities ('name@version'; NULL: the
--   organ's organ_provides_capability edges); the six-argument form claims as a worker that
--   is no organ.
-- * task_route_missing(route_organ, requires) names what no live organ provides (NULL when
--   some live organ, or any worker, can serve the task): the 'unroutable' report.
--
-- KEEP IN STEP with src/tasks/claim.ts (the claim statement) and src/agents/routing.ts.

BEGIN;

-- ---------------------------------------------------------------------------
-- Versions and constraints.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION version_key(p text)
RETURNS integer[]
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT string_to_array(regexp_replace(p, '(\.0+)+$', ''), '.')::integer[]
$$;

COMMENT ON FUNCTION version_key(text) IS
  'Sort key of a dotted-number version: ''1.4.0'' → {1,4}; trailing zero parts dropped, so ''2'' = ''2.0''.';

CREATE OR REPLACE FUNCTION version_satisfies(p_have text, p_min text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
  SELECT p_min IS NULL OR version_key(coalesce(p_have, '0')) >= version_key(p_min)
$$;

COMMENT ON FUNCTION version_satisfies(text, text) IS
  'Whether version p_have meets the minimum p_min (dotted numbers; p_min NULL: always; p_have NULL counts as 0).';

-- Whether a text[] of constraints has the canonical form tasks.requires stores.
CREATE OR REPLACE FUNCTION capability_constraints_valid(p text[])
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
  SELECT p IS NULL OR (
    cardinality(p) BETWEEN 1 AND 32 AND array_position(p, NULL) IS NULL
    AND NOT EXISTS (SELECT 1 FROM unnest(p) c
                     WHERE c !~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}(>=[0-9]{1,9}(\.[0-9]{1,9}){0,7})?$'))
$$;

COMMENT ON FUNCTION capability_constraints_valid(text[]) IS
  'Whether p is NULL or 1–32 constraints ''name'' / ''name>=min'' (the form tasks.requires holds).';

-- Whether a provider with capabilities p_names at versions p_versions meets every constraint.
CREATE OR REPLACE FUNCTION capability_requirements_met(p_requires text[], p_names text[], p_versions text[])
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
  SELECT p_requires IS NULL OR NOT EXISTS (
    SELECT 1 FROM unnest(p_requires) r(c)
     WHERE NOT EXISTS (SELECT 1 FROM unnest(p_names, p_versions) v(n, ver)
                        WHERE v.n = split_part(r.c, '>=', 1)
                          AND version_satisfies(v.ver, nullif(split_part(r.c, '>=', 2), ''))))
$$;

COMMENT ON FUNCTION capability_requirements_met(text[], text[], text[]) IS
  'Whether capabilities p_names at versions p_versions (parallel arrays) meet every constraint of p_requires (''name'' / ''name>=min'').';

-- ---------------------------------------------------------------------------
-- Columns.
-- ---------------------------------------------------------------------------

-- The provider's side (organ_provides_capability.version) is described with the organs'
-- registration; added here too so the functions below find it in either order.
ALTER TABLE organ_provides_capability ADD COLUMN IF NOT EXISTS version text;
ALTER TABLE task_uses_capability ADD COLUMN IF NOT EXISTS min_version text;
COMMENT ON COLUMN task_uses_capability.min_version IS 'Minimum version the task requires (dotted numbers); NULL: any.';

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS requires text[];
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS route_organ text;
COMMENT ON COLUMN tasks.requires IS
  'Capability constraints (''name'' or ''name>=min'', sorted by name) a claiming organ must meet; NULL: none. Mirrors task_uses_capability.';
COMMENT ON COLUMN tasks.route_organ IS
  'Organ the task was bound to through SeedCore''s API: only that organ claims it while it is live. NULL: not routed to an organ.';

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'tasks'::regclass AND conname = 'tasks_requires_check') THEN
    -- The IS NULL arm comes first so the function is not called on the updates of unrouted
    -- tasks (every claim and completion re-checks the constraints of the row it writes).
    ALTER TABLE tasks ADD CONSTRAINT tasks_requires_check CHECK (requires IS NULL OR capability_constraints_valid(requires));
  END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- Claim indexes (same rebuild-if-different rule as 013).
-- ---------------------------------------------------------------------------

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
      ('idx_tasks_claim',
       '(queue, priority, (COALESCE(run_after, created_at)), created_at) WHERE status IN (''queued'', ''retry'') AND route_organ IS NULL AND requires IS NULL'),
      ('idx_tasks_claim_routed',
       '((COALESCE(''organ:'' || route_organ, ''cap:'' || split_part(requires[1], ''>='', 1))), queue, priority, (COALESCE(run_after, created_at)), created_at) WHERE status IN (''queued'', ''retry'') AND (route_organ IS NOT NULL OR requires IS NOT NULL)')
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
-- Liveness of organs and the unroutable report.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION organ_is_live(p_organ text)
RETURNS boolean
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
  SELECT EXISTS (SELECT 1 FROM registry_instance ri JOIN cluster_metadata cm ON cm.id = 1
                  WHERE ri.logical_id = p_organ AND ri.status = 'alive' AND ri.cluster_epoch = cm.current_epoch
                    AND ri.last_heartbeat > now() - make_interval(secs => cm.liveness_seconds))
$$;

COMMENT ON FUNCTION organ_is_live(text) IS
  'Whether an alive registry instance of the current epoch, within the liveness window, has logical id p_organ.';

-- What no live organ provides for a task with these routing columns; NULL when it can be
-- served. A bound task whose organ is live needs that organ to meet its requirements
-- ('organ:ID' is named when it is live but does not); otherwise any live organ meeting every
-- requirement will do. When none does, the constraints no live organ meets on its own are
-- named (all of them when each is met by some organ but no organ meets all).
CREATE OR REPLACE FUNCTION task_route_missing(p_route_organ text, p_requires text[])
RETURNS text[]
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
  v_missing text[];
BEGIN
  IF p_requires IS NULL THEN
    RETURN NULL;
  END IF;
  IF p_route_organ IS NOT NULL AND organ_is_live(p_route_organ) THEN
    IF capability_requirements_met(p_requires,
         ARRAY(SELECT c.name FROM organ_provides_capability e JOIN capability c ON c.capability_id = e.capability_id WHERE e.organ_id = p_route_organ ORDER BY c.name),
         ARRAY(SELECT e.version FROM organ_provides_capability e JOIN capability c ON c.capability_id = e.capability_id WHERE e.organ_id = p_route_organ ORDER BY c.name)) THEN
      RETURN NULL;
    END IF;
    RETURN ARRAY['organ:' || p_route_organ] || ARRAY(
      SELECT r.c FROM unnest(p_requires) r(c)
       WHERE NOT EXISTS (SELECT 1 FROM organ_provides_capability e JOIN capability c ON c.capability_id = e.capability_id
                          WHERE e.organ_id = p_route_organ AND c.name = split_part(r.c, '>=', 1)
                            AND version_satisfies(e.version, nullif(split_part(r.c, '>=', 2), ''))));
  END IF;
  IF EXISTS (
       SELECT 1 FROM (SELECT e.organ_id, array_agg(c.name) AS names, array_agg(e.version) AS versions
                        FROM organ_provides_capability e JOIN capability c ON c.capability_id = e.capability_id
                       WHERE c.name = ANY (ARRAY(SELECT split_part(x, '>=', 1) FROM unnest(p_requires) x))
                       GROUP BY e.organ_id) o
        WHERE capability_requirements_met(p_requires, o.names, o.versions) AND organ_is_live(o.organ_id)) THEN
    RETURN NULL;
  END IF;
  v_missing := ARRAY(
    SELECT r.c FROM unnest(p_requires) r(c)
     WHERE NOT EXISTS (SELECT 1 FROM organ_provides_capability e JOIN capability c ON c.capability_id = e.capability_id
                        WHERE c.name = split_part(r.c, '>=', 1)
                          AND version_satisfies(e.version, nullif(split_part(r.c, '>=', 2), ''))
                          AND organ_is_live(e.organ_id)));
  RETURN CASE WHEN cardinality(v_missing) = 0 THEN p_requires ELSE v_missing END;
END
$$;

COMMENT ON FUNCTION task_route_missing(text, text[]) IS
  'For a task''s route_organ and requires: the constraints no live organ meets (''organ:ID'' when its live bound organ falls short); NULL when it can be served.';

-- ---------------------------------------------------------------------------
-- Claim with routing (src/tasks/claim.ts runs the same statement).
-- ---------------------------------------------------------------------------

-- p_organ: the claiming worker's organ (NULL: a worker that is no organ). p_capabilities:
-- what it provides, 'name@version' or 'name' (version 0); NULL reads the organ's
-- organ_provides_capability edges. Candidates: unrouted tasks (idx_tasks_claim) and, per route
-- key the worker can serve, routed ones (idx_tasks_claim_routed): its own organ, each of its
-- capabilities, and every organ that is not live (bound tasks then go to any worker meeting
-- their requirements). A routed task is taken only when the worker meets all its requirements.
CREATE OR REPLACE FUNCTION claim_tasks(
  p_owner text,
  p_limit integer,
  p_lease_seconds double precision,
  p_types text[],
  p_queues text[],
  p_aging_seconds double precision,
  p_organ text,
  p_capabilities text[] DEFAULT NULL)
RETURNS SETOF tasks
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
  v_names text[];
  v_versions text[];
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
  IF p_organ = '' THEN
    RAISE EXCEPTION 'claim_tasks: p_organ must be NULL or a non-empty text' USING ERRCODE = '22023';
  END IF;
  IF p_capabilities IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(p_capabilities) c
       WHERE c IS NULL OR c !~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}(@[0-9]{1,9}(\.[0-9]{1,9}){0,7})?$') THEN
    RAISE EXCEPTION 'claim_tasks: p_capabilities must be ''name'' or ''name@version'' (dotted numbers)' USING ERRCODE = '22023';
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

  IF p_organ IS NOT NULL AND p_capabilities IS NULL THEN
    SELECT coalesce(array_agg(c.name ORDER BY c.name), '{}'), coalesce(array_agg(e.version ORDER BY c.name), '{}')
      INTO v_names, v_versions
      FROM organ_provides_capability e JOIN capability c ON c.capability_id = e.capability_id
     WHERE e.organ_id = p_organ;
  ELSE
    v_names := ARRAY(SELECT split_part(c, '@', 1) FROM unnest(coalesce(p_capabilities, '{}')) WITH ORDINALITY AS x(c, i) ORDER BY i);
    v_versions := ARRAY(SELECT nullif(split_part(c, '@', 2), '') FROM unnest(coalesce(p_capabilities, '{}')) WITH ORDINALITY AS x(c, i) ORDER BY i);
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
  keys AS MATERIALIZED (
    SELECT 'organ:' || p_organ AS key WHERE p_organ IS NOT NULL
    UNION
    SELECT 'cap:' || n FROM unnest(v_names) AS n
    UNION
    SELECT 'organ:' || o.organ_id FROM organ_registry o
     WHERE o.organ_id IS DISTINCT FROM p_organ
       AND NOT EXISTS (SELECT 1 FROM registry_instance ri JOIN cluster_metadata cm ON cm.id = 1
                        WHERE ri.logical_id = o.organ_id AND ri.status = 'alive' AND ri.cluster_epoch = cm.current_epoch
                          AND ri.last_heartbeat > now() - make_interval(secs => cm.liveness_seconds))
  ),
  cand AS MATERIALIZED (
    SELECT c.tid, c.queue, c.due, c.created_at,
           greatest(0, p.lvl - 1 - CASE WHEN p_aging_seconds > 0 THEN floor(extract(epoch FROM now() - c.due) / p_aging_seconds)::int ELSE 0 END) AS eff
      FROM qs
     CROSS JOIN unnest(enum_range(NULL::taskpriority)) WITH ORDINALITY AS p(pr, lvl)
     CROSS JOIN LATERAL (
       SELECT t.ctid AS tid, t.queue, coalesce(t.run_after, t.created_at) AS due, t.created_at
         FROM tasks t
        WHERE t.status IN ('queued', 'retry') AND t.route_organ IS NULL AND t.requires IS NULL
          AND t.queue = qs.name AND t.priority = p.pr
          AND coalesce(t.run_after, t.created_at) <= now()
          AND (p_types IS NULL OR t.type = ANY (p_types))
          AND (t.expires_at IS NULL OR t.expires_at > now())
        ORDER BY coalesce(t.run_after, t.created_at), t.created_at
        LIMIT least(p_limit, qs.slots)
          FOR UPDATE SKIP LOCKED) c
     WHERE qs.slots > 0
    UNION ALL
    SELECT c.tid, c.queue, c.due, c.created_at,
           greatest(0, p.lvl - 1 - CASE WHEN p_aging_seconds > 0 THEN floor(extract(epoch FROM now() - c.due) / p_aging_seconds)::int ELSE 0 END) AS eff
      FROM qs
     CROSS JOIN unnest(enum_range(NULL::taskpriority)) WITH ORDINALITY AS p(pr, lvl)
     CROSS JOIN keys k
     CROSS JOIN LATERAL (
       SELECT t.ctid AS tid, t.queue, coalesce(t.run_after, t.created_at) AS due, t.created_at
         FROM tasks t
        WHERE t.status IN ('queued', 'retry') AND (t.route_organ IS NOT NULL OR t.requires IS NOT NULL)
          AND coalesce('organ:' || t.route_organ, 'cap:' || split_part(t.requires[1], '>=', 1)) = k.key
          AND t.queue = qs.name AND t.priority = p.pr
          AND coalesce(t.run_after, t.created_at) <= now()
          AND (p_types IS NULL OR t.type = ANY (p_types))
          AND (t.expires_at IS NULL OR t.expires_at > now())
          AND capability_requirements_met(t.requires, v_names, v_versions)
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

COMMENT ON FUNCTION claim_tasks(text, integer, double precision, text[], text[], double precision, text, text[]) IS
  'Claim up to p_limit due tasks for p_owner as organ p_organ (NULL: no organ) providing p_capabilities (''name@version''; NULL: its edges): unrouted tasks, tasks bound to it or to an organ that is not live, and tasks whose every requirement it meets; priority with aging, queue limits, windows, SKIP LOCKED; attempts + 1.';

-- The six-argument form of 020: a worker that is no organ (unrouted tasks, and bound tasks
-- whose organ is not live).
CREATE OR REPLACE FUNCTION claim_tasks(
  p_owner text,
  p_limit integer,
  p_lease_seconds double precision DEFAULT 30,
  p_types text[] DEFAULT NULL,
  p_queues text[] DEFAULT ARRAY['default'],
  p_aging_seconds double precision DEFAULT 300)
RETURNS SETOF tasks
LANGUAGE sql
VOLATILE
AS $$
  SELECT * FROM claim_tasks(p_owner, p_limit, p_lease_seconds, p_types, p_queues, p_aging_seconds, NULL::text, NULL::text[])
$$;

COMMENT ON FUNCTION claim_tasks(text, integer, double precision, text[], text[], double precision) IS
  'Claim up to p_limit due tasks for p_owner as a worker that is no organ (priority with aging, queue limits, windows, SKIP LOCKED); attempts + 1; returns the claimed rows.';

COMMIT;
