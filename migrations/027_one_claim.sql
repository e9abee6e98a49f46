-- 027_one_claim.sql
--
-- One implementation of the claim. Until now the TypeScript dispatcher ran its own claim
-- statement (src/tasks/claim.ts) and claim_tasks() (020, with routing since 021) ported it for
-- workers in other languages, kept in step by hand. claim_tasks_core() is now the claim, and
-- both call it: the dispatcher directly, claim_tasks() after checking its arguments, resolving
-- the organ's capabilities and fencing its owner.
--
--   claim_tasks_core(owner, limit, lease_seconds, types, queues, aging_seconds,
--                    organ, capability names, capability versions, alive instance, limited queues)
--
-- What the dispatcher needed beyond claim_tasks():
-- * p_cap_names / p_cap_versions: the capabilities the worker provides as given (parallel
--   arrays; version NULL counts as 0), not read from organ_provides_capability.
-- * p_alive_instance: the registered claimer's instance id; the claim then takes rows only
--   while that instance is alive in the current epoch and within the liveness window
--   (database clock), checked in the claiming statement itself. A missing instance row claims
--   nothing. NULL: no such check (claim_tasks() fences by its owner instead, see below).
-- * p_limited_queues: which served queues that have a queue_limits row the claim may take
--   from. NULL: all of them. The function locks those rows (FOR UPDATE, in name order: no
--   deadlock between claimers) before the claiming statement, which then runs with a fresh
--   snapshot, so the running counts it sees include every earlier claimer's commit (never
--   over-claimed). '{}': limited queues are skipped and no lock is taken (the dispatcher's
--   common case, when none of its queues has a limit).
--
-- Semantics are those of both former copies: effective priority with aging, then due time,
-- then age; per served (queue, priority) one locked range scan (SKIP LOCKED) of
-- idx_tasks_claim for unrouted tasks and of idx_tasks_claim_routed per route key the worker
-- can serve ('organ:' its own organ, 'cap:' each capability, 'organ:' every organ that is not
-- live); a routed task only when every requirement is met; at most the free slots of each
-- limited queue; windows (run_after, expires_at); attempts + 1. The run history (task_runs) is
-- written by the outcome's trigger (018), as before.
--
-- Cost (server CPU per task of a claim+complete loop, same run; see docs/benchmarks.md):
-- * The function runs its claim with a generic plan (SET plan_cache_mode). Under the default
--   setting PL/pgSQL re-planned the statement on every call, because the generic plan's
--   estimate (a worst case over unknown parameters) never beats a custom one; planning was
--   about 40% of the claim. The plan's shape does not depend on the parameters: one index
--   range scan per (queue, priority) and per (route key, queue, priority).
-- * The organ keys (the worker's own organ and the organs that are not live) are scanned only
--   while some waiting task is bound to an organ: one probe of idx_tasks_claim_routed for the
--   first key >= 'organ:' (every bound task's key starts with 'organ:', every other routed key
--   with 'cap:'). A worker that finds none skips the organ_registry x registry_instance scan
--   and the empty range scans of its own organ's key.
-- * capability_constraints_valid(), the CHECK on tasks.requires, which every claim and
--   completion of a routed task re-evaluates, without its per-element query (below).
--
-- Supersedes claim_tasks(text, integer, double precision, text[], text[], double precision,
-- text, text[]) and capability_constraints_valid(text[]) of 021 (re-running 021 alone
-- restores its own copies, re-running 027 after it restores these). Idempotent: CREATE OR
-- REPLACE only.

BEGIN;

CREATE OR REPLACE FUNCTION claim_tasks_core(
  p_owner text,
  p_limit integer,
  p_lease_seconds double precision,
  p_types text[],
  p_queues text[],
  p_aging_seconds double precision,
  p_organ text DEFAULT NULL,
  p_cap_names text[] DEFAULT NULL,
  p_cap_versions text[] DEFAULT NULL,
  p_alive_instance uuid DEFAULT NULL,
  p_limited_queues text[] DEFAULT NULL)
RETURNS SETOF tasks
LANGUAGE plpgsql
VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  IF p_owner IS NULL OR p_owner = '' THEN
    RAISE EXCEPTION 'claim_tasks_core: p_owner must be a non-empty text' USING ERRCODE = '22023';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds <= 0 THEN
    RAISE EXCEPTION 'claim_tasks_core: p_lease_seconds must be > 0' USING ERRCODE = '22023';
  END IF;
  IF p_aging_seconds IS NULL OR p_aging_seconds < 0 THEN
    RAISE EXCEPTION 'claim_tasks_core: p_aging_seconds must be >= 0' USING ERRCODE = '22023';
  END IF;
  IF p_limit IS NULL OR p_limit < 1 OR p_queues IS NULL THEN
    RETURN;
  END IF;

  IF p_limited_queues IS NULL OR cardinality(p_limited_queues) > 0 THEN
    PERFORM l.queue FROM queue_limits l
      WHERE l.queue = ANY (p_queues) AND (p_limited_queues IS NULL OR l.queue = ANY (p_limited_queues))
      ORDER BY l.queue FOR UPDATE;
  END IF;

  RETURN QUERY
  WITH qs AS MATERIALIZED (
    SELECT q.name,
           CASE WHEN l.queue IS NULL THEN p_limit
                ELSE greatest(0, l.max_running - (SELECT count(*)::int FROM tasks r WHERE r.status = 'running' AND r.queue = q.name)) END AS slots
      FROM (SELECT DISTINCT u.name FROM unnest(p_queues) AS u(name)) q
      LEFT JOIN queue_limits l ON l.queue = q.name
     WHERE (l.queue IS NULL OR p_limited_queues IS NULL OR l.queue = ANY (p_limited_queues))
       AND (p_alive_instance IS NULL
            OR EXISTS (SELECT 1 FROM registry_instance ri JOIN cluster_metadata cm ON cm.id = 1
                        WHERE ri.instance_id = p_alive_instance AND ri.status = 'alive' AND ri.cluster_epoch = cm.current_epoch
                          AND ri.last_heartbeat > now() - make_interval(secs => cm.liveness_seconds)))
  ),
  caps AS MATERIALIZED (
    SELECT x.name, version_key(coalesce(x.version, '0')) AS vk
      FROM unnest(coalesce(p_cap_names, '{}'), coalesce(p_cap_versions, '{}')) AS x(name, version)
     WHERE x.name IS NOT NULL
  ),
  -- Whether some waiting task is bound to an organ. Every bound key sorts at or above
  -- 'organ:' in any collation (a prefix never sorts after its extensions), so the probe
  -- cannot miss one; a 'cap:' key sorts below wherever c < o, and where it did not, the
  -- probe would find it and the organ keys would be scanned as they always were.
  bound AS MATERIALIZED (
    -- A scalar subquery with ORDER BY … LIMIT 1, not EXISTS: under EXISTS the planner drops
    -- the ordering and may read tasks sequentially.
    SELECT (SELECT 1 FROM tasks b
             WHERE b.status IN ('queued', 'retry') AND (b.route_organ IS NOT NULL OR b.requires IS NOT NULL)
               AND coalesce('organ:' || b.route_organ, 'cap:' || split_part(b.requires[1], '>=', 1)) >= 'organ:'
             ORDER BY coalesce('organ:' || b.route_organ, 'cap:' || split_part(b.requires[1], '>=', 1))
             LIMIT 1) IS NOT NULL AS any
  ),
  keys AS MATERIALIZED (
    -- The worker's own organ key and those of the organs that are not live: only while some
    -- waiting task is bound to an organ (otherwise their range scans are empty).
    SELECT 'organ:' || p_organ AS key FROM bound WHERE p_organ IS NOT NULL AND bound.any
    UNION
    SELECT 'cap:' || caps.name FROM caps
    UNION
    SELECT 'organ:' || o.organ_id FROM organ_registry o, bound
     WHERE bound.any
       AND o.organ_id IS DISTINCT FROM p_organ
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
          AND (t.requires IS NULL OR NOT EXISTS (
                SELECT 1 FROM unnest(t.requires) AS r(c)
                 WHERE NOT EXISTS (SELECT 1 FROM caps WHERE caps.name = split_part(r.c, '>=', 1)
                                      AND (strpos(r.c, '>=') = 0 OR caps.vk >= version_key(split_part(r.c, '>=', 2))))))
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
    -- By the row versions cand locked (a TID scan: no primary-key descent per row). A locked
    -- version cannot change before this statement ends; a row whose newest version this
    -- snapshot cannot see is skipped, never claimed twice.
   WHERE t.ctid = ANY (ARRAY(SELECT pick.tid FROM pick)) AND t.status IN ('queued', 'retry')
  RETURNING t.*;
END
$$;

COMMENT ON FUNCTION claim_tasks_core(text, integer, double precision, text[], text[], double precision, text, text[], text[], uuid, text[]) IS
  'The claim (one implementation for the TypeScript dispatcher and claim_tasks): up to p_limit due tasks for p_owner as organ p_organ providing p_cap_names at p_cap_versions; only while p_alive_instance (when given) is alive; from the limited queues in p_limited_queues (NULL: all, locked here; {}: none); priority with aging, queue limits, windows, SKIP LOCKED; attempts + 1.';

-- The constraint check of tasks.requires (021), about 10x cheaper: every claim and every
-- completion of a routed task re-checks its row's constraints, and 021's form (a query over
-- the elements, each matched against a pattern with a bounded repetition {0,199}) cost about
-- 11 us per row. The same answer for every input: the elements joined by ',' (a character no
-- constraint may contain, hence the count of commas) match one constraint's pattern, repeated,
-- with the name unbounded; no name exceeds 200 characters (a run of 201 name characters can
-- only be a name: '>=' and ',' end one, and a version has at most 79). Without a subquery the
-- function is inlined into the CHECK constraint.
CREATE OR REPLACE FUNCTION capability_constraints_valid(p text[])
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
  SELECT p IS NULL OR (
    cardinality(p) BETWEEN 1 AND 32 AND array_position(p, NULL) IS NULL
    AND length(array_to_string(p, ',')) - length(replace(array_to_string(p, ','), ',', '')) = cardinality(p) - 1
    AND array_to_string(p, ',') ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]*(>=[0-9]{1,9}(\.[0-9]{1,9}){0,7})?(,[A-Za-z0-9][A-Za-z0-9_.:/-]*(>=[0-9]{1,9}(\.[0-9]{1,9}){0,7})?)*$'
    AND (length(array_to_string(p, ',')) <= 200 OR array_to_string(p, ',') !~ '[A-Za-z0-9_.:/-]{201}'))
$$;

COMMENT ON FUNCTION capability_constraints_valid(text[]) IS
  'Whether p is NULL or 1–32 constraints ''name'' / ''name>=min'' (the form tasks.requires holds).';

-- claim_tasks with an organ (021): the checks of its arguments, the organ's capabilities from
-- its organ_provides_capability edges when none are given, and the owner's fence (an owner
-- that is a registry instance not alive, of an old epoch or silent past the liveness window
-- claims nothing; owners that are not registry instances are not checked); then the claim.
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

  RETURN QUERY
  SELECT * FROM claim_tasks_core(p_owner, p_limit, p_lease_seconds, p_types, p_queues, p_aging_seconds,
                                 p_organ, v_names, v_versions, NULL::uuid, NULL::text[]);
END
$$;

COMMENT ON FUNCTION claim_tasks(text, integer, double precision, text[], text[], double precision, text, text[]) IS
  'Claim up to p_limit due tasks for p_owner as organ p_organ (NULL: no organ) providing p_capabilities (''name@version''; NULL: its edges): unrouted tasks, tasks bound to it or to an organ that is not live, and tasks whose every requirement it meets; priority with aging, queue limits, windows, SKIP LOCKED; attempts + 1 (claim_tasks_core).';

COMMIT;
