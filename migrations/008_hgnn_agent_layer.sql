-- 008_hgnn_agent_layer.sql
--
-- Heterogeneous graph, part 2: the agent layer. Dimension tables model, policy, service
-- and skill (text keys), their node-id helpers, and the 6 agent-layer edge tables
-- ("008 style": the endpoint pair is the primary key). Same rules as 007: endpoints are
-- mapped by an AFTER INSERT trigger on each edge table, and deleting a dimension row
-- deletes its graph_node_map row. hgnn_edges is defined in 010.

BEGIN;

-- ---------------------------------------------------------------------------
-- Dimension tables.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS model (
  model_name text        NOT NULL,
  meta       jsonb                DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_pkey PRIMARY KEY (model_name)
);
COMMENT ON TABLE model IS 'LLM / ML models (graph node type model).';

CREATE TABLE IF NOT EXISTS policy (
  policy_name text        NOT NULL,
  meta        jsonb                DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT policy_pkey PRIMARY KEY (policy_name)
);
COMMENT ON TABLE policy IS 'Governance policies (graph node type policy).';

CREATE TABLE IF NOT EXISTS service (
  service_name text        NOT NULL,
  meta         jsonb                DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT service_pkey PRIMARY KEY (service_name)
);
COMMENT ON TABLE service IS 'External services used by organs (graph node type service).';

CREATE TABLE IF NOT EXISTS skill (
  skill_name text        NOT NULL,
  meta       jsonb                DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT skill_pkey PRIMARY KEY (skill_name)
);
COMMENT ON TABLE skill IS 'Skills provided by organs (graph node type skill).';

-- The original allowed NULL timestamps here: fill and tighten.
DO $$
DECLARE
  v_tbl text;
  v_col text;
BEGIN
  FOREACH v_tbl IN ARRAY ARRAY['model', 'policy', 'service', 'skill'] LOOP
    FOREACH v_col IN ARRAY ARRAY['created_at', 'updated_at'] LOOP
      IF EXISTS (SELECT 1 FROM pg_attribute
                  WHERE attrelid = v_tbl::regclass AND attname = v_col AND NOT attnotnull) THEN
        EXECUTE format('UPDATE %I SET %I = now() WHERE %I IS NULL', v_tbl, v_col, v_col);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET NOT NULL', v_tbl, v_col);
      END IF;
    END LOOP;
  END LOOP;
END
$$;

CREATE OR REPLACE TRIGGER trg_model_updated_at
  BEFORE UPDATE ON model FOR EACH ROW EXECUTE FUNCTION update_timestamps();
CREATE OR REPLACE TRIGGER trg_policy_updated_at
  BEFORE UPDATE ON policy FOR EACH ROW EXECUTE FUNCTION update_timestamps();
CREATE OR REPLACE TRIGGER trg_service_updated_at
  BEFORE UPDATE ON service FOR EACH ROW EXECUTE FUNCTION update_timestamps();
CREATE OR REPLACE TRIGGER trg_skill_updated_at
  BEFORE UPDATE ON skill FOR EACH ROW EXECUTE FUNCTION update_timestamps();

-- ---------------------------------------------------------------------------
-- Node-id helpers (see 007 for the shared semantics).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION ensure_model_node(p_name text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_name IS NULL THEN
    RAISE EXCEPTION 'ensure_model_node: p_name must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'model' AND m.ext_table = 'model' AND m.ext_text_id = p_name;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- Register the model if it is new, then hold KEY SHARE so it cannot be
  -- deleted before the mapping commits.
  INSERT INTO model (model_name) VALUES (p_name) ON CONFLICT (model_name) DO NOTHING;
  PERFORM 1 FROM model e WHERE e.model_name = p_name FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_model_node: model % was deleted concurrently; retry', p_name
      USING ERRCODE = 'serialization_failure';
  END IF;

  RETURN graph_node_map_insert('model', 'model', NULL, p_name);
END
$$;

COMMENT ON FUNCTION ensure_model_node(text) IS
  'Returns the graph_node_map id of model p_name, registering the model in model and creating the mapping if needed (race-free). NULL raises 22004.';

CREATE OR REPLACE FUNCTION ensure_policy_node(p_name text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_name IS NULL THEN
    RAISE EXCEPTION 'ensure_policy_node: p_name must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'policy' AND m.ext_table = 'policy' AND m.ext_text_id = p_name;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- Register the policy if it is new, then hold KEY SHARE so it cannot be
  -- deleted before the mapping commits.
  INSERT INTO policy (policy_name) VALUES (p_name) ON CONFLICT (policy_name) DO NOTHING;
  PERFORM 1 FROM policy e WHERE e.policy_name = p_name FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_policy_node: policy % was deleted concurrently; retry', p_name
      USING ERRCODE = 'serialization_failure';
  END IF;

  RETURN graph_node_map_insert('policy', 'policy', NULL, p_name);
END
$$;

COMMENT ON FUNCTION ensure_policy_node(text) IS
  'Returns the graph_node_map id of policy p_name, registering the policy in policy and creating the mapping if needed (race-free). NULL raises 22004.';

CREATE OR REPLACE FUNCTION ensure_service_node(p_name text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_name IS NULL THEN
    RAISE EXCEPTION 'ensure_service_node: p_name must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'service' AND m.ext_table = 'service' AND m.ext_text_id = p_name;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- Register the service if it is new, then hold KEY SHARE so it cannot be
  -- deleted before the mapping commits.
  INSERT INTO service (service_name) VALUES (p_name) ON CONFLICT (service_name) DO NOTHING;
  PERFORM 1 FROM service e WHERE e.service_name = p_name FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_service_node: service % was deleted concurrently; retry', p_name
      USING ERRCODE = 'serialization_failure';
  END IF;

  RETURN graph_node_map_insert('service', 'service', NULL, p_name);
END
$$;

COMMENT ON FUNCTION ensure_service_node(text) IS
  'Returns the graph_node_map id of service p_name, registering the service in service and creating the mapping if needed (race-free). NULL raises 22004.';

CREATE OR REPLACE FUNCTION ensure_skill_node(p_name text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_name IS NULL THEN
    RAISE EXCEPTION 'ensure_skill_node: p_name must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'skill' AND m.ext_table = 'skill' AND m.ext_text_id = p_name;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- Register the skill if it is new, then hold KEY SHARE so it cannot be
  -- deleted before the mapping commits.
  INSERT INTO skill (skill_name) VALUES (p_name) ON CONFLICT (skill_name) DO NOTHING;
  PERFORM 1 FROM skill e WHERE e.skill_name = p_name FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_skill_node: skill % was deleted concurrently; retry', p_name
      USING ERRCODE = 'serialization_failure';
  END IF;

  RETURN graph_node_map_insert('skill', 'skill', NULL, p_name);
END
$$;

COMMENT ON FUNCTION ensure_skill_node(text) IS
  'Returns the graph_node_map id of skill p_name, registering the skill in skill and creating the mapping if needed (race-free). NULL raises 22004.';
-- Delete/truncate triggers (same mechanism as 007); mapped but unregistered names from an
-- original database are registered first.
DO $$
DECLARE
  v_spec record;
BEGIN
  FOR v_spec IN
    SELECT * FROM (VALUES
      ('model',   'model',   'model_name'),
      ('policy',  'policy',  'policy_name'),
      ('service', 'service', 'service_name'),
      ('skill',   'skill',   'skill_name')
    ) AS s(tbl, node_type, key_col)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                    WHERE tgrelid = v_spec.tbl::regclass
                      AND tgname = format('trg_%s_graph_node_delete', v_spec.tbl)) THEN
      EXECUTE format('INSERT INTO %I (%I) SELECT m.ext_text_id FROM graph_node_map m'
                     ' WHERE m.node_type = $1 AND m.ext_table = $2 AND m.ext_text_id IS NOT NULL'
                     ' AND NOT EXISTS (SELECT 1 FROM %I e WHERE e.%I = m.ext_text_id)'
                     ' ORDER BY m.node_id ON CONFLICT DO NOTHING',
                     v_spec.tbl, v_spec.key_col, v_spec.tbl, v_spec.key_col)
        USING v_spec.node_type, v_spec.tbl;
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %I'
                   ' REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION graph_node_map_entity_deleted(%L, %L, %L)',
                   format('trg_%s_graph_node_delete', v_spec.tbl), v_spec.tbl,
                   v_spec.node_type, v_spec.key_col, 'ext_text_id');
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER TRUNCATE ON %I'
                   ' FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION graph_node_map_entity_deleted(%L, %L, %L)',
                   format('trg_%s_graph_node_truncate', v_spec.tbl), v_spec.tbl,
                   v_spec.node_type, v_spec.key_col, 'ext_text_id');
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- Agent-layer edge tables. The primary key (first endpoint first) serves look-ups by the
-- first endpoint; one index on the second endpoint serves reverse traversal and the FK
-- cascade from that side.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS agent_member_of_organ (
  agent_id   text        NOT NULL REFERENCES agent_registry (agent_id) ON DELETE CASCADE,
  organ_id   text        NOT NULL REFERENCES organ_registry (organ_id) ON DELETE CASCADE,
  created_at timestamptz          DEFAULT now(),
  PRIMARY KEY (agent_id, organ_id)
);
COMMENT ON TABLE agent_member_of_organ IS 'Edge agent -> organ (agent__member_of__organ).';
CREATE INDEX IF NOT EXISTS idx_agent_member_of_organ_organ ON agent_member_of_organ (organ_id);

CREATE TABLE IF NOT EXISTS agent_collab_agent (
  src_agent  text        NOT NULL REFERENCES agent_registry (agent_id) ON DELETE CASCADE,
  dst_agent  text        NOT NULL REFERENCES agent_registry (agent_id) ON DELETE CASCADE,
  created_at timestamptz          DEFAULT now(),
  PRIMARY KEY (src_agent, dst_agent)
);
COMMENT ON TABLE agent_collab_agent IS 'Edge agent -> agent (agent__collab__agent).';
CREATE INDEX IF NOT EXISTS idx_agent_collab_dst ON agent_collab_agent (dst_agent);

CREATE TABLE IF NOT EXISTS organ_provides_skill (
  organ_id   text        NOT NULL REFERENCES organ_registry (organ_id) ON DELETE CASCADE,
  skill_name text        NOT NULL REFERENCES skill (skill_name) ON DELETE CASCADE,
  created_at timestamptz          DEFAULT now(),
  PRIMARY KEY (organ_id, skill_name)
);
COMMENT ON TABLE organ_provides_skill IS 'Edge organ -> skill (organ__provides__skill).';
CREATE INDEX IF NOT EXISTS idx_organ_provides_skill_skill ON organ_provides_skill (skill_name);

CREATE TABLE IF NOT EXISTS organ_uses_service (
  organ_id     text        NOT NULL REFERENCES organ_registry (organ_id) ON DELETE CASCADE,
  service_name text        NOT NULL REFERENCES service (service_name) ON DELETE CASCADE,
  created_at   timestamptz          DEFAULT now(),
  PRIMARY KEY (organ_id, service_name)
);
COMMENT ON TABLE organ_uses_service IS 'Edge organ -> service (organ__uses__service).';
CREATE INDEX IF NOT EXISTS idx_organ_uses_service_serv ON organ_uses_service (service_name);

CREATE TABLE IF NOT EXISTS organ_governed_by_policy (
  organ_id    text        NOT NULL REFERENCES organ_registry (organ_id) ON DELETE CASCADE,
  policy_name text        NOT NULL REFERENCES policy (policy_name) ON DELETE CASCADE,
  created_at  timestamptz          DEFAULT now(),
  PRIMARY KEY (organ_id, policy_name)
);
COMMENT ON TABLE organ_governed_by_policy IS 'Edge organ -> policy (organ__governed_by__policy).';
CREATE INDEX IF NOT EXISTS idx_organ_governed_by_policy_policy ON organ_governed_by_policy (policy_name);

CREATE TABLE IF NOT EXISTS agent_uses_model (
  agent_id   text        NOT NULL REFERENCES agent_registry (agent_id) ON DELETE CASCADE,
  model_name text        NOT NULL REFERENCES model (model_name) ON DELETE CASCADE,
  created_at timestamptz          DEFAULT now(),
  PRIMARY KEY (agent_id, model_name)
);
COMMENT ON TABLE agent_uses_model IS 'Edge agent -> model (agent__uses__model).';
CREATE INDEX IF NOT EXISTS idx_agent_uses_model_model ON agent_uses_model (model_name);

-- The original's indexes on the first endpoint duplicate the primary key's leading column.
DO $$
DECLARE
  v_name text;
  v_idx  regclass;
BEGIN
  FOREACH v_name IN ARRAY ARRAY['idx_agent_member_of_organ_agent', 'idx_agent_collab_src',
                                'idx_organ_provides_skill_organ', 'idx_organ_uses_service_organ',
                                'idx_organ_governed_by_policy_organ', 'idx_agent_uses_model_agent'] LOOP
    v_idx := NULL;
    SELECT c.oid::regclass INTO v_idx FROM pg_class c
     WHERE c.oid = to_regclass(v_name) AND c.relkind = 'i';
    IF v_idx IS NOT NULL THEN
      EXECUTE format('DROP INDEX %s', v_idx);
    END IF;
  END LOOP;
END
$$;

-- Endpoint-mapping triggers (see 007).
DO $$
DECLARE
  v_spec record;
  v_trg  text;
BEGIN
  FOR v_spec IN
    SELECT * FROM (VALUES
      ('agent_member_of_organ',    'agent', 'agent_id',  'organ',   'organ_id'),
      ('agent_collab_agent',       'agent', 'src_agent', 'agent',   'dst_agent'),
      ('organ_provides_skill',     'organ', 'organ_id',  'skill',   'skill_name'),
      ('organ_uses_service',       'organ', 'organ_id',  'service', 'service_name'),
      ('organ_governed_by_policy', 'organ', 'organ_id',  'policy',  'policy_name'),
      ('agent_uses_model',         'agent', 'agent_id',  'model',   'model_name')
    ) AS s(tbl, src_type, src_col, dst_type, dst_col)
  LOOP
    v_trg := format('trg_%s_map_nodes', v_spec.tbl);
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                    WHERE tgrelid = v_spec.tbl::regclass AND tgname = v_trg) THEN
      EXECUTE format('SELECT count(ensure_graph_node($1, d.k)) FROM'
                     ' (SELECT DISTINCT e.%I::text AS k FROM %I e ORDER BY 1) d',
                     v_spec.src_col, v_spec.tbl)
        USING v_spec.src_type;
      EXECUTE format('SELECT count(ensure_graph_node($1, d.k)) FROM'
                     ' (SELECT DISTINCT e.%I::text AS k FROM %I e ORDER BY 1) d',
                     v_spec.dst_col, v_spec.tbl)
        USING v_spec.dst_type;
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE OF %I, %I ON %I'
                   ' FOR EACH ROW EXECUTE FUNCTION hgnn_edge_map_endpoints(%L, %L, %L, %L)',
                   v_trg, v_spec.src_col, v_spec.dst_col, v_spec.tbl,
                   v_spec.src_type, v_spec.src_col, v_spec.dst_type, v_spec.dst_col);
  END LOOP;
END
$$;

COMMIT;
