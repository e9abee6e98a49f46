-- 012_runtime_registry_functions.sql
--
-- Runtime registry operations: epoch rotation, registration, status transitions (a small
-- state machine in which dead is final), fenced heartbeats, and expiry. All liveness
-- decisions use the database clock (now()); the only lock taken explicitly is
-- transaction-scoped, so nothing leaks when a statement fails.
--
-- Errors (SQLSTATE):
--   22004 null_value_not_allowed            a required argument is NULL
--   22023 invalid_parameter_value           an argument is out of range
--   55000 object_not_in_prerequisite_state  registering a dead instance again; a status
--                                           change the state machine does not allow
--   P0002 no_data_found                     set_instance_status on an unknown instance

BEGIN;

-- beat() returned void in the original; a function's result type cannot be replaced.
DO $$
BEGIN
  IF to_regprocedure('beat(uuid)') IS NOT NULL
     AND (SELECT prorettype FROM pg_proc WHERE oid = to_regprocedure('beat(uuid)')) <> 'boolean'::regtype THEN
    DROP FUNCTION beat(uuid);
  END IF;
END
$$;

-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION set_current_epoch(new_epoch uuid)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  IF new_epoch IS NULL THEN
    RAISE EXCEPTION 'set_current_epoch: new_epoch must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  -- Serialise epoch rotations; released automatically at the end of the transaction.
  PERFORM pg_advisory_xact_lock(42);

  INSERT INTO cluster_metadata AS cm (id, current_epoch, updated_at)
  VALUES (1, new_epoch, now())
  ON CONFLICT (id) DO UPDATE
    SET current_epoch = EXCLUDED.current_epoch,
        updated_at    = now();
END
$$;

COMMENT ON FUNCTION set_current_epoch(uuid) IS
  'Makes new_epoch the current cluster epoch (upsert of cluster_metadata row 1) under the transaction-scoped advisory lock 42. Instances of older epochs drop out of the active views at once and are fenced at their next beat(). NULL raises 22004.';

-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION register_instance(
  p_instance_id   uuid,
  p_logical_id    text,
  p_cluster_epoch uuid,
  p_actor_name    text,
  p_serve_route   text,
  p_node_id       text,
  p_ip            inet,
  p_pid           integer
)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  IF p_instance_id IS NULL OR p_logical_id IS NULL OR p_cluster_epoch IS NULL THEN
    RAISE EXCEPTION 'register_instance: % must not be NULL',
                    CASE WHEN p_instance_id IS NULL THEN 'p_instance_id'
                         WHEN p_logical_id IS NULL THEN 'p_logical_id'
                         ELSE 'p_cluster_epoch' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  INSERT INTO registry_instance AS ri
         (instance_id, logical_id, cluster_epoch, status, actor_name, serve_route,
          node_id, ip_address, pid)
  VALUES (p_instance_id, p_logical_id, p_cluster_epoch, 'starting', p_actor_name, p_serve_route,
          p_node_id, p_ip, p_pid)
  ON CONFLICT (instance_id) DO UPDATE
     SET logical_id     = EXCLUDED.logical_id,
         cluster_epoch  = EXCLUDED.cluster_epoch,
         actor_name     = EXCLUDED.actor_name,
         serve_route    = EXCLUDED.serve_route,
         node_id        = EXCLUDED.node_id,
         ip_address     = EXCLUDED.ip_address,
         pid            = EXCLUDED.pid,
         last_heartbeat = now()
   WHERE ri.status <> 'dead';

  IF NOT FOUND THEN
    RAISE EXCEPTION 'register_instance: instance % is dead; register under a new instance id',
                    p_instance_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
END
$$;

COMMENT ON FUNCTION register_instance(uuid, text, uuid, text, text, text, inet, integer) IS
  'Registers an instance with status starting. Registering an existing instance again refreshes its logical id, epoch, addresses, pid and heartbeat (status unchanged), unless it is dead: dead is final (55000; register under a new instance id). NULL instance id, logical id or epoch raises 22004.';

-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION set_instance_status(p_instance_id uuid, p_status instancestatus)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  v_old instancestatus;
BEGIN
  IF p_instance_id IS NULL OR p_status IS NULL THEN
    RAISE EXCEPTION 'set_instance_status: % must not be NULL',
                    CASE WHEN p_instance_id IS NULL THEN 'p_instance_id' ELSE 'p_status' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT ri.status INTO v_old
    FROM registry_instance ri
   WHERE ri.instance_id = p_instance_id
     FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'set_instance_status: instance % does not exist', p_instance_id
      USING ERRCODE = 'no_data_found';
  END IF;

  IF v_old = p_status THEN
    RETURN;
  END IF;
  IF v_old = 'dead' THEN
    RAISE EXCEPTION 'set_instance_status: instance % is dead; dead is final (illegal transition dead -> %)',
                    p_instance_id, p_status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF NOT (   p_status = 'dead'
          OR (v_old = 'starting' AND p_status IN ('alive', 'draining'))
          OR (v_old = 'alive'    AND p_status = 'draining')) THEN
    RAISE EXCEPTION 'set_instance_status: illegal transition % -> % for instance %',
                    v_old, p_status, p_instance_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;

  UPDATE registry_instance ri
     SET status     = p_status,
         stopped_at = CASE WHEN p_status IN ('draining', 'dead')
                           THEN coalesce(ri.stopped_at, now())
                           ELSE ri.stopped_at END
   WHERE ri.instance_id = p_instance_id;
END
$$;

COMMENT ON FUNCTION set_instance_status(uuid, instancestatus) IS
  'Moves an instance along starting -> alive -> draining -> dead (also starting -> draining, and any -> dead). Same status: no-op. dead is final. Other transitions raise 55000 (''illegal transition X -> Y''); unknown instance raises P0002. Entering draining or dead stamps stopped_at once.';

-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION beat(p_instance_id uuid)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
  v_inst  record;
  v_epoch uuid;
  v_live  integer;
BEGIN
  SELECT ri.status, ri.cluster_epoch, ri.last_heartbeat INTO v_inst
    FROM registry_instance ri
   WHERE ri.instance_id = p_instance_id
     FOR UPDATE;
  IF NOT FOUND OR v_inst.status = 'dead' THEN
    RETURN false;
  END IF;

  SELECT cm.current_epoch, cm.liveness_seconds INTO v_epoch, v_live
    FROM cluster_metadata cm
   WHERE cm.id = 1;

  IF v_epoch IS NOT NULL
     AND v_inst.cluster_epoch = v_epoch
     AND v_inst.last_heartbeat > now() - make_interval(secs => v_live) THEN
    UPDATE registry_instance ri
       SET last_heartbeat = now()
     WHERE ri.instance_id = p_instance_id;
    RETURN true;
  END IF;

  -- Missed the liveness window, or belongs to an old epoch: others may already treat it
  -- as gone, so it is fenced for good. The process must register a new instance.
  UPDATE registry_instance ri
     SET status     = 'dead',
         stopped_at = coalesce(ri.stopped_at, now())
   WHERE ri.instance_id = p_instance_id;
  RETURN false;
END
$$;

COMMENT ON FUNCTION beat(uuid) IS
  'Heartbeat. Records last_heartbeat = now() and returns true if the instance exists, is not dead, belongs to the current epoch and its previous heartbeat is within cluster_metadata.liveness_seconds. Otherwise returns false; a live-status instance that missed the window or is from an old epoch is marked dead (fenced) and must register under a new instance id. Unknown id: false.';

-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION expire_stale_instances(p_timeout_seconds integer DEFAULT 15)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  v_count integer;
BEGIN
  IF p_timeout_seconds IS NULL OR p_timeout_seconds < 0 THEN
    RAISE EXCEPTION 'expire_stale_instances: p_timeout_seconds must be an integer >= 0 (got %)',
                    coalesce(p_timeout_seconds::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  UPDATE registry_instance ri
     SET status     = 'dead',
         stopped_at = coalesce(ri.stopped_at, now())
   WHERE ri.status IN ('starting', 'alive', 'draining')
     AND ri.last_heartbeat < now() - make_interval(secs => p_timeout_seconds);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

COMMENT ON FUNCTION expire_stale_instances(integer) IS
  'Marks dead every starting/alive/draining instance whose last heartbeat is older than p_timeout_seconds (stopped_at stamped once); returns the number of instances expired.';

-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION expire_old_epoch_instances()
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  v_count integer;
BEGIN
  UPDATE registry_instance ri
     SET status     = 'dead',
         stopped_at = coalesce(ri.stopped_at, now())
    FROM cluster_metadata cm
   WHERE cm.id = 1
     AND ri.cluster_epoch <> cm.current_epoch
     AND ri.status IN ('starting', 'alive', 'draining');
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

COMMENT ON FUNCTION expire_old_epoch_instances() IS
  'Marks dead every starting/alive/draining instance that is not in the current epoch (stopped_at stamped once); returns the number expired (0 when no epoch is set).';

COMMIT;
