-- 029: seedcore_ensure_node, the body of the eleven ensure_<type>_node helpers written once.
--
--   SELECT seedcore_ensure_node('task', 'tasks', '0190c2d4-…'::uuid, NULL);
--   SELECT seedcore_ensure_node('agent', 'agent_registry', NULL, 'planner');
--
-- 007 (task, agent, organ, artifact, capability, memory_cell), 008 (model, policy, service,
-- skill) and 010 (fact) each spelled the same steps out for one node type; they differed only
-- in the entity table, its key column, whether the key is a uuid or a text, and the names in
-- their error messages. The steps, unchanged:
-- 1. The node's graph_node_map row, looked up by (node_type, ext_table, key): if it is there,
--    its node_id is the answer (no write, no lock).
-- 2. Text-keyed types (agent, organ, model, policy, service, skill) register a missing entity
--    (INSERT ... ON CONFLICT DO NOTHING; an organ with agent_id NULL). Then the entity row is
--    read FOR KEY SHARE, so it cannot be deleted before the mapping commits. No row: a
--    uuid-keyed entity (task, artifact, capability, memory_cell, fact) does not exist,
--    SQLSTATE 23503; a text-keyed one was deleted between the two statements, 40001 (retry).
-- 3. graph_node_map_insert (007) inserts the row ON CONFLICT DO NOTHING and, when a concurrent
--    transaction mapped the entity first, reads that transaction's id: concurrent calls for
--    one key return one id, and a mapped node never draws from the node-id sequence.
-- A NULL key raises 22004. Error messages name the typed helper and its parameter, as before
-- (e.g. 'ensure_task_node: task … does not exist'), so a caller sees the same error whichever
-- of the two it called.
--
-- New here: a (node_type, ext_table) pair that is not one of the eleven, and a key of the
-- wrong kind (a text for a uuid-keyed type, or both keys), raise 22023 before anything is
-- written. The two statements of step 2 name the entity table, so they are written out per
-- table: static SQL is planned once per session, like the helpers' own statements were;
-- EXECUTE plans again for every new node, which took 1.7x the server CPU time per new node
-- (86 against 47 us for a task). The look-up of step 1 comes first, as in the helpers, so a
-- mapped node costs one index look-up. Per call, against the former helpers (server CPU time
-- of 20,000 calls, median of 5): a new task 52 against 47 us, a new agent 47 against 42 us, a
-- mapped task 13 against 12 us, a mapped agent 5.0 against 4.5 us.
--
-- Each ensure_<type>_node keeps its signature, return type, volatility (VOLATILE),
-- strictness (not STRICT) and behaviour, and becomes one SQL call of seedcore_ensure_node.
-- ensure_graph_node (007), which the edge triggers call, dispatches to them as before.
--
-- Supersedes the ensure_<type>_node bodies of 007, 008 and 010 (re-running one of those alone
-- restores its own copies, re-running 029 after it restores these). Idempotent: CREATE OR
-- REPLACE only.

BEGIN;

CREATE OR REPLACE FUNCTION seedcore_ensure_node(
  p_node_type   text,
  p_ext_table   text,
  p_ext_uuid    uuid,
  p_ext_text_id text
)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
AS $fn$
DECLARE
  v_spec record;
  v_key  text;
  v_id   bigint;
BEGIN
  IF p_node_type IS NULL OR p_ext_table IS NULL THEN
    RAISE EXCEPTION 'seedcore_ensure_node: the node type and table must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  -- 1. Mapped already (the common case: one index look-up, nothing else).
  IF p_ext_text_id IS NULL THEN
    SELECT m.node_id INTO v_id
      FROM graph_node_map m
     WHERE m.node_type = p_node_type AND m.ext_table = p_ext_table AND m.ext_uuid = p_ext_uuid;
  ELSIF p_ext_uuid IS NULL THEN
    SELECT m.node_id INTO v_id
      FROM graph_node_map m
     WHERE m.node_type = p_node_type AND m.ext_table = p_ext_table AND m.ext_text_id = p_ext_text_id;
  END IF;
  IF v_id IS NOT NULL THEN
    RETURN v_id;
  END IF;

  -- The eleven node types: whether the key is a uuid, whether a missing entity is registered,
  -- the typed helper's parameter and the entity's name in messages.
  SELECT * INTO v_spec FROM (VALUES
    ('task',        'tasks',          true,  false, 'p_task_id',        'task'),
    ('agent',       'agent_registry', false, true,  'p_agent_id',       'agent'),
    ('organ',       'organ_registry', false, true,  'p_organ_id',       'organ'),
    ('artifact',    'artifact',       true,  false, 'p_artifact_id',    'artifact'),
    ('capability',  'capability',     true,  false, 'p_capability_id',  'capability'),
    ('memory_cell', 'memory_cell',    true,  false, 'p_memory_cell_id', 'memory cell'),
    ('fact',        'facts',          true,  false, 'p_fact_id',        'fact'),
    ('model',       'model',          false, true,  'p_name',           'model'),
    ('policy',      'policy',         false, true,  'p_name',           'policy'),
    ('service',     'service',        false, true,  'p_name',           'service'),
    ('skill',       'skill',          false, true,  'p_name',           'skill')
  ) AS s(node_type, ext_table, by_uuid, registers, param, label)
  WHERE s.node_type = p_node_type AND s.ext_table = p_ext_table;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'seedcore_ensure_node: unknown node type/table pair (%, %)', p_node_type, p_ext_table
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pairs: (task, tasks), (agent, agent_registry), (organ, organ_registry), (artifact, artifact), '
                   '(capability, capability), (memory_cell, memory_cell), (fact, facts), (model, model), '
                   '(policy, policy), (service, service), (skill, skill).';
  END IF;
  IF (v_spec.by_uuid AND p_ext_text_id IS NOT NULL) OR (NOT v_spec.by_uuid AND p_ext_uuid IS NOT NULL) THEN
    RAISE EXCEPTION 'seedcore_ensure_node: % nodes are keyed by %', p_node_type,
      CASE WHEN v_spec.by_uuid THEN 'a uuid (p_ext_uuid), not a text' ELSE 'a text (p_ext_text_id), not a uuid' END
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_key := CASE WHEN v_spec.by_uuid THEN p_ext_uuid::text ELSE p_ext_text_id END;
  IF v_key IS NULL THEN
    RAISE EXCEPTION 'ensure_%_node: % must not be NULL', p_node_type, v_spec.param
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  -- 2. Register a text-keyed entity if it is new, then hold KEY SHARE on the entity so it
  -- cannot be deleted before the mapping commits (static statements per table: see the top).
  CASE p_ext_table
    WHEN 'tasks' THEN
      PERFORM 1 FROM tasks e WHERE e.id = p_ext_uuid FOR KEY SHARE;
    WHEN 'artifact' THEN
      PERFORM 1 FROM artifact e WHERE e.artifact_id = p_ext_uuid FOR KEY SHARE;
    WHEN 'capability' THEN
      PERFORM 1 FROM capability e WHERE e.capability_id = p_ext_uuid FOR KEY SHARE;
    WHEN 'memory_cell' THEN
      PERFORM 1 FROM memory_cell e WHERE e.memory_cell_id = p_ext_uuid FOR KEY SHARE;
    WHEN 'facts' THEN
      PERFORM 1 FROM facts e WHERE e.id = p_ext_uuid FOR KEY SHARE;
    WHEN 'agent_registry' THEN
      INSERT INTO agent_registry (agent_id) VALUES (p_ext_text_id) ON CONFLICT (agent_id) DO NOTHING;
      PERFORM 1 FROM agent_registry e WHERE e.agent_id = p_ext_text_id FOR KEY SHARE;
    WHEN 'organ_registry' THEN
      INSERT INTO organ_registry (organ_id) VALUES (p_ext_text_id) ON CONFLICT (organ_id) DO NOTHING;
      PERFORM 1 FROM organ_registry e WHERE e.organ_id = p_ext_text_id FOR KEY SHARE;
    WHEN 'model' THEN
      INSERT INTO model (model_name) VALUES (p_ext_text_id) ON CONFLICT (model_name) DO NOTHING;
      PERFORM 1 FROM model e WHERE e.model_name = p_ext_text_id FOR KEY SHARE;
    WHEN 'policy' THEN
      INSERT INTO policy (policy_name) VALUES (p_ext_text_id) ON CONFLICT (policy_name) DO NOTHING;
      PERFORM 1 FROM policy e WHERE e.policy_name = p_ext_text_id FOR KEY SHARE;
    WHEN 'service' THEN
      INSERT INTO service (service_name) VALUES (p_ext_text_id) ON CONFLICT (service_name) DO NOTHING;
      PERFORM 1 FROM service e WHERE e.service_name = p_ext_text_id FOR KEY SHARE;
    WHEN 'skill' THEN
      INSERT INTO skill (skill_name) VALUES (p_ext_text_id) ON CONFLICT (skill_name) DO NOTHING;
      PERFORM 1 FROM skill e WHERE e.skill_name = p_ext_text_id FOR KEY SHARE;
  END CASE;
  IF NOT FOUND THEN
    IF v_spec.registers THEN
      RAISE EXCEPTION 'ensure_%_node: % % was deleted concurrently; retry', p_node_type, v_spec.label, v_key
        USING ERRCODE = 'serialization_failure';
    END IF;
    RAISE EXCEPTION 'ensure_%_node: % % does not exist', p_node_type, v_spec.label, v_key
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  -- 3. Map it (race-free).
  RETURN graph_node_map_insert(p_node_type, p_ext_table, p_ext_uuid, p_ext_text_id);
END
$fn$;

COMMENT ON FUNCTION seedcore_ensure_node(text, text, uuid, text) IS
  'Returns the graph_node_map id of the entity (p_node_type, p_ext_table, exactly one of p_ext_uuid / p_ext_text_id), creating the mapping if needed (race-free). Text-keyed types register a missing entity; uuid-keyed ones refuse it (23503). NULL key raises 22004; an unknown type/table pair or a key of the wrong kind raises 22023. The body of every ensure_<type>_node helper (029).';

-- The typed helpers: one call each.
CREATE OR REPLACE FUNCTION ensure_task_node(p_task_id uuid)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('task', 'tasks', p_task_id, NULL) $$;

CREATE OR REPLACE FUNCTION ensure_agent_node(p_agent_id text)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('agent', 'agent_registry', NULL, p_agent_id) $$;

CREATE OR REPLACE FUNCTION ensure_organ_node(p_organ_id text)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('organ', 'organ_registry', NULL, p_organ_id) $$;

CREATE OR REPLACE FUNCTION ensure_artifact_node(p_artifact_id uuid)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('artifact', 'artifact', p_artifact_id, NULL) $$;

CREATE OR REPLACE FUNCTION ensure_capability_node(p_capability_id uuid)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('capability', 'capability', p_capability_id, NULL) $$;

CREATE OR REPLACE FUNCTION ensure_memory_cell_node(p_memory_cell_id uuid)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('memory_cell', 'memory_cell', p_memory_cell_id, NULL) $$;

CREATE OR REPLACE FUNCTION ensure_fact_node(p_fact_id uuid)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('fact', 'facts', p_fact_id, NULL) $$;

CREATE OR REPLACE FUNCTION ensure_model_node(p_name text)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('model', 'model', NULL, p_name) $$;

CREATE OR REPLACE FUNCTION ensure_policy_node(p_name text)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('policy', 'policy', NULL, p_name) $$;

CREATE OR REPLACE FUNCTION ensure_service_node(p_name text)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('service', 'service', NULL, p_name) $$;

CREATE OR REPLACE FUNCTION ensure_skill_node(p_name text)
RETURNS bigint LANGUAGE sql VOLATILE
AS $$ SELECT seedcore_ensure_node('skill', 'skill', NULL, p_name) $$;

COMMIT;
