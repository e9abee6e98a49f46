-- 007_hgnn_graph_schema.sql
--
-- Heterogeneous graph (HGNN), part 1: the canonical node-id map, the registries and
-- task-layer resources, the 9 edge tables of the task layer / cross-layer, and the
-- helpers that map entities to node ids.
--
-- Node ids are assigned EAGERLY: every edge table has an AFTER INSERT trigger that maps
-- both endpoints, so the hgnn_edges view (created in 010, once its last edge table exists)
-- is a pure join that never writes and works in read-only transactions and on replicas.
-- Deleting an entity deletes its graph_node_map row (and, by FK cascade, its embedding).
--
-- Helper semantics (all race-free: look up; if missing INSERT ... ON CONFLICT DO NOTHING;
-- if that returned nothing, look up again; the sequence is only touched for new nodes):
--   * text-keyed (agent, organ, model, policy, service, skill): register the entity if it
--     is missing, then map it;
--   * uuid-keyed (task, artifact, capability, memory_cell, fact): the entity must exist,
--     otherwise SQLSTATE 23503;
--   * a NULL key raises SQLSTATE 22004.

BEGIN;

-- ---------------------------------------------------------------------------
-- graph_node_map: one BIGINT id per graph entity (DGL-compatible).
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS graph_node_map (
  node_id     bigserial   NOT NULL,
  node_type   text        NOT NULL,
  ext_table   text        NOT NULL,
  ext_uuid    uuid,
  ext_text_id text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT graph_node_map_pkey PRIMARY KEY (node_id),
  CONSTRAINT graph_node_map_node_type_ext_table_ext_uuid_key UNIQUE (ext_uuid, node_type, ext_table),
  CONSTRAINT graph_node_map_node_type_ext_table_ext_text_id_key UNIQUE (ext_text_id, node_type, ext_table)
);

-- The two unique keys cover the same columns as the original's, but lead with the external
-- key. With (node_type, ext_table, ...) first, both indexes match the equality on node_type
-- and ext_table, and until the table has statistics (PGlite runs no autovacuum) the planner
-- may look a uuid up through the text-id index, i.e. scan every node of the type. Leading
-- with the key leaves exactly one usable index per look-up. An original table is rebuilt
-- to this order here; exactly one external key per row and the known node types are
-- enforced by CHECK constraints.
DO $$
DECLARE
  v_key record;
BEGIN
  FOR v_key IN
    SELECT * FROM (VALUES
      ('graph_node_map_node_type_ext_table_ext_uuid_key',    'ext_uuid'),
      ('graph_node_map_node_type_ext_table_ext_text_id_key', 'ext_text_id')
    ) AS s(name, key_col)
  LOOP
    IF (SELECT c.conkey FROM pg_constraint c
         WHERE c.conrelid = 'graph_node_map'::regclass AND c.conname = v_key.name)
       IS DISTINCT FROM
       (SELECT array_agg(a.attnum ORDER BY array_position(ARRAY[v_key.key_col, 'node_type', 'ext_table'], a.attname::text))
          FROM pg_attribute a
         WHERE a.attrelid = 'graph_node_map'::regclass
           AND a.attname IN (v_key.key_col, 'node_type', 'ext_table'))
    THEN
      IF EXISTS (SELECT 1 FROM pg_constraint c
                  WHERE c.conrelid = 'graph_node_map'::regclass AND c.conname = v_key.name) THEN
        EXECUTE format('ALTER TABLE graph_node_map DROP CONSTRAINT %I', v_key.name);
      END IF;
      EXECUTE format('ALTER TABLE graph_node_map ADD CONSTRAINT %I UNIQUE (%I, node_type, ext_table)',
                     v_key.name, v_key.key_col);
    END IF;
  END LOOP;

  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                  WHERE conrelid = 'graph_node_map'::regclass
                    AND conname = 'graph_node_map_one_key_check') THEN
    ALTER TABLE graph_node_map
      ADD CONSTRAINT graph_node_map_one_key_check
      CHECK (num_nonnulls(ext_uuid, ext_text_id) = 1);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                  WHERE conrelid = 'graph_node_map'::regclass
                    AND conname = 'graph_node_map_node_type_check') THEN
    ALTER TABLE graph_node_map
      ADD CONSTRAINT graph_node_map_node_type_check
      CHECK (node_type IN ('task', 'agent', 'organ', 'artifact', 'capability', 'memory_cell',
                           'fact', 'model', 'policy', 'service', 'skill'));
  END IF;
END
$$;

COMMENT ON TABLE graph_node_map IS
  'Canonical BIGINT node id for every graph entity (DGL node ids): (node_type, ext_table) plus exactly one of ext_uuid (task, artifact, capability, memory_cell, fact) or ext_text_id (agent, organ, model, policy, service, skill). Rows are created by the ensure_*_node helpers and the edge triggers, and deleted with their entity.';
COMMENT ON COLUMN graph_node_map.node_id IS 'Canonical node id; also the key of graph_embeddings.';
COMMENT ON COLUMN graph_node_map.node_type IS 'One of task, agent, organ, artifact, capability, memory_cell, fact, model, policy, service, skill.';
COMMENT ON COLUMN graph_node_map.ext_table IS 'Table that holds the entity.';
COMMENT ON COLUMN graph_node_map.ext_uuid IS 'Key of a uuid-keyed entity.';
COMMENT ON COLUMN graph_node_map.ext_text_id IS 'Key of a text-keyed entity.';

CREATE OR REPLACE FUNCTION update_graph_node_map_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

COMMENT ON FUNCTION update_graph_node_map_updated_at() IS
  'Trigger function: sets graph_node_map.updated_at to now().';

CREATE OR REPLACE TRIGGER trg_graph_node_map_updated_at
  BEFORE UPDATE ON graph_node_map
  FOR EACH ROW
  EXECUTE FUNCTION update_graph_node_map_updated_at();

-- graph_embeddings.node_id lives in the graph_node_map id space. When the key is added to
-- an existing table, embeddings whose node_id is not a mapped node (the original's embedder
-- keyed them by Neo4j ids) cannot be interpreted as graph nodes, but they are kept: they move to
-- graph_embeddings_quarantine (created only then), which `seedcore verify` and `seedcore
-- migrate` report with how to map or drop the rows. (An earlier version of this file deleted
-- them; its checksum is accepted as this file's, see src/migrate/files.ts.)
DO $$
DECLARE
  v_orphans bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                  WHERE conrelid = 'graph_embeddings'::regclass
                    AND conname = 'graph_embeddings_node_id_fkey') THEN
    IF EXISTS (SELECT 1 FROM graph_embeddings e
                WHERE NOT EXISTS (SELECT 1 FROM graph_node_map m WHERE m.node_id = e.node_id)) THEN
      CREATE TABLE IF NOT EXISTS graph_embeddings_quarantine (
        LIKE graph_embeddings INCLUDING DEFAULTS,
        quarantined_at timestamptz NOT NULL DEFAULT now(),
        reason         text        NOT NULL DEFAULT 'node_id is not a graph_node_map node',
        CONSTRAINT graph_embeddings_quarantine_pkey PRIMARY KEY (node_id)
      );
      COMMENT ON TABLE graph_embeddings_quarantine IS
        'Embeddings kept from an upgraded database whose node_id was not a graph_node_map node (e.g. Neo4j ids): map them (UPDATE node_id, move back) or drop them.';
      WITH moved AS (
        DELETE FROM graph_embeddings e
         WHERE NOT EXISTS (SELECT 1 FROM graph_node_map m WHERE m.node_id = e.node_id)
        RETURNING e.node_id, e.label, e.props, e.emb, e.created_at, e.updated_at)
      INSERT INTO graph_embeddings_quarantine (node_id, label, props, emb, created_at, updated_at)
      SELECT node_id, label, props, emb, created_at, updated_at FROM moved;
      GET DIAGNOSTICS v_orphans = ROW_COUNT;
      RAISE NOTICE 'moved % graph_embeddings rows whose node_id is not a graph_node_map node to graph_embeddings_quarantine', v_orphans;
    END IF;
    ALTER TABLE graph_embeddings
      ADD CONSTRAINT graph_embeddings_node_id_fkey
      FOREIGN KEY (node_id) REFERENCES graph_node_map (node_id) ON DELETE CASCADE;
  END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- Registries (text keys) and task-layer resources (uuid keys).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION update_timestamps()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

COMMENT ON FUNCTION update_timestamps() IS
  'Trigger function shared by the registry, resource and dimension tables: sets updated_at to now().';

CREATE TABLE IF NOT EXISTS agent_registry (
  agent_id     text        NOT NULL,
  display_name text,
  props        jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT agent_registry_pkey PRIMARY KEY (agent_id)
);
COMMENT ON TABLE agent_registry IS 'Agents (graph node type agent), keyed by a text id.';

CREATE TABLE IF NOT EXISTS organ_registry (
  organ_id   text        NOT NULL,
  agent_id   text,
  kind       text,
  props      jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT organ_registry_pkey PRIMARY KEY (organ_id),
  CONSTRAINT organ_registry_agent_id_fkey FOREIGN KEY (agent_id)
    REFERENCES agent_registry (agent_id) ON UPDATE CASCADE ON DELETE SET NULL
);
COMMENT ON TABLE organ_registry IS 'Organs (graph node type organ): agent sub-components, optionally owned by an agent.';
COMMENT ON COLUMN organ_registry.kind IS 'e.g. utility, actuator, retriever.';

CREATE TABLE IF NOT EXISTS artifact (
  artifact_id uuid        NOT NULL DEFAULT gen_random_uuid(),
  uri         text        NOT NULL,
  kind        text,
  props       jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT artifact_pkey PRIMARY KEY (artifact_id)
);
COMMENT ON TABLE artifact IS 'Artifacts produced by tasks (graph node type artifact).';
COMMENT ON COLUMN artifact.kind IS 'e.g. file, s3, vector, blob.';

CREATE TABLE IF NOT EXISTS capability (
  capability_id uuid        NOT NULL DEFAULT gen_random_uuid(),
  name          text        NOT NULL,
  props         jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT capability_pkey PRIMARY KEY (capability_id),
  CONSTRAINT capability_name_key UNIQUE (name)
);
COMMENT ON TABLE capability IS 'Named capabilities, e.g. summarize, embed, plan-route (graph node type capability).';

CREATE TABLE IF NOT EXISTS memory_cell (
  memory_cell_id uuid        NOT NULL DEFAULT gen_random_uuid(),
  scope          text        NOT NULL,
  mkey           text        NOT NULL,
  version        integer     NOT NULL DEFAULT 1,
  props          jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT memory_cell_pkey PRIMARY KEY (memory_cell_id),
  CONSTRAINT memory_cell_scope_mkey_version_key UNIQUE (scope, mkey, version)
);
COMMENT ON TABLE memory_cell IS 'Versioned, scoped memory cells (graph node type memory_cell).';
COMMENT ON COLUMN memory_cell.scope IS 'e.g. agent, organ, global.';

CREATE OR REPLACE TRIGGER trg_agent_registry_updated_at
  BEFORE UPDATE ON agent_registry FOR EACH ROW EXECUTE FUNCTION update_timestamps();
CREATE OR REPLACE TRIGGER trg_organ_registry_updated_at
  BEFORE UPDATE ON organ_registry FOR EACH ROW EXECUTE FUNCTION update_timestamps();
CREATE OR REPLACE TRIGGER trg_artifact_updated_at
  BEFORE UPDATE ON artifact FOR EACH ROW EXECUTE FUNCTION update_timestamps();
CREATE OR REPLACE TRIGGER trg_capability_updated_at
  BEFORE UPDATE ON capability FOR EACH ROW EXECUTE FUNCTION update_timestamps();
CREATE OR REPLACE TRIGGER trg_memory_cell_updated_at
  BEFORE UPDATE ON memory_cell FOR EACH ROW EXECUTE FUNCTION update_timestamps();

-- ---------------------------------------------------------------------------
-- Node-id helpers.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION graph_node_map_insert(
  p_node_type   text,
  p_ext_table   text,
  p_ext_uuid    uuid,
  p_ext_text_id text
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  FOR v_try IN 1..3 LOOP
    INSERT INTO graph_node_map (node_type, ext_table, ext_uuid, ext_text_id)
    VALUES (p_node_type, p_ext_table, p_ext_uuid, p_ext_text_id)
    ON CONFLICT DO NOTHING
    RETURNING node_id INTO v_id;
    IF v_id IS NOT NULL THEN
      RETURN v_id;
    END IF;

    -- Another transaction mapped the same entity first (it has committed, or ON CONFLICT
    -- would still be waiting for it): read its id.
    IF p_ext_uuid IS NOT NULL THEN
      SELECT m.node_id INTO v_id FROM graph_node_map m
       WHERE m.node_type = p_node_type AND m.ext_table = p_ext_table AND m.ext_uuid = p_ext_uuid;
    ELSE
      SELECT m.node_id INTO v_id FROM graph_node_map m
       WHERE m.node_type = p_node_type AND m.ext_table = p_ext_table AND m.ext_text_id = p_ext_text_id;
    END IF;
    IF v_id IS NOT NULL THEN
      RETURN v_id;
    END IF;
    -- The competing row vanished again (its entity was deleted): try once more.
  END LOOP;

  RAISE EXCEPTION 'graph_node_map_insert: could not map % % (concurrent deletes); retry',
                  p_node_type, coalesce(p_ext_uuid::text, p_ext_text_id)
    USING ERRCODE = 'serialization_failure';
END
$$;

COMMENT ON FUNCTION graph_node_map_insert(text, text, uuid, text) IS
  'Internal to the ensure_*_node helpers: inserts a graph_node_map row unless one exists (ON CONFLICT DO NOTHING) and returns the node id either way. Does not check the entity; call the ensure_*_node helpers instead.';

CREATE OR REPLACE FUNCTION ensure_task_node(p_task_id uuid)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_task_id IS NULL THEN
    RAISE EXCEPTION 'ensure_task_node: p_task_id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'task' AND m.ext_table = 'tasks' AND m.ext_uuid = p_task_id;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- KEY SHARE keeps the task from being deleted before the mapping commits.
  PERFORM 1 FROM tasks e WHERE e.id = p_task_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_task_node: task % does not exist', p_task_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  RETURN graph_node_map_insert('task', 'tasks', p_task_id, NULL);
END
$$;

COMMENT ON FUNCTION ensure_task_node(uuid) IS
  'Returns the graph_node_map id of task p_task_id, creating the mapping if needed (race-free). The task must exist: otherwise SQLSTATE 23503; NULL raises 22004.';

CREATE OR REPLACE FUNCTION ensure_agent_node(p_agent_id text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_agent_id IS NULL THEN
    RAISE EXCEPTION 'ensure_agent_node: p_agent_id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'agent' AND m.ext_table = 'agent_registry' AND m.ext_text_id = p_agent_id;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- Register the agent if it is new, then hold KEY SHARE so it cannot be
  -- deleted before the mapping commits.
  INSERT INTO agent_registry (agent_id) VALUES (p_agent_id) ON CONFLICT (agent_id) DO NOTHING;
  PERFORM 1 FROM agent_registry e WHERE e.agent_id = p_agent_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_agent_node: agent % was deleted concurrently; retry', p_agent_id
      USING ERRCODE = 'serialization_failure';
  END IF;

  RETURN graph_node_map_insert('agent', 'agent_registry', NULL, p_agent_id);
END
$$;

COMMENT ON FUNCTION ensure_agent_node(text) IS
  'Returns the graph_node_map id of agent p_agent_id, registering the agent in agent_registry and creating the mapping if needed (race-free). NULL raises 22004.';

CREATE OR REPLACE FUNCTION ensure_organ_node(p_organ_id text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_organ_id IS NULL THEN
    RAISE EXCEPTION 'ensure_organ_node: p_organ_id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'organ' AND m.ext_table = 'organ_registry' AND m.ext_text_id = p_organ_id;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- Register the organ if it is new (with agent_id NULL), then hold KEY SHARE so it cannot be
  -- deleted before the mapping commits.
  INSERT INTO organ_registry (organ_id) VALUES (p_organ_id) ON CONFLICT (organ_id) DO NOTHING;
  PERFORM 1 FROM organ_registry e WHERE e.organ_id = p_organ_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_organ_node: organ % was deleted concurrently; retry', p_organ_id
      USING ERRCODE = 'serialization_failure';
  END IF;

  RETURN graph_node_map_insert('organ', 'organ_registry', NULL, p_organ_id);
END
$$;

COMMENT ON FUNCTION ensure_organ_node(text) IS
  'Returns the graph_node_map id of organ p_organ_id, registering the organ in organ_registry (with agent_id NULL) and creating the mapping if needed (race-free). NULL raises 22004.';

CREATE OR REPLACE FUNCTION ensure_artifact_node(p_artifact_id uuid)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_artifact_id IS NULL THEN
    RAISE EXCEPTION 'ensure_artifact_node: p_artifact_id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'artifact' AND m.ext_table = 'artifact' AND m.ext_uuid = p_artifact_id;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- KEY SHARE keeps the artifact from being deleted before the mapping commits.
  PERFORM 1 FROM artifact e WHERE e.artifact_id = p_artifact_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_artifact_node: artifact % does not exist', p_artifact_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  RETURN graph_node_map_insert('artifact', 'artifact', p_artifact_id, NULL);
END
$$;

COMMENT ON FUNCTION ensure_artifact_node(uuid) IS
  'Returns the graph_node_map id of artifact p_artifact_id, creating the mapping if needed (race-free). The artifact must exist: otherwise SQLSTATE 23503; NULL raises 22004.';

CREATE OR REPLACE FUNCTION ensure_capability_node(p_capability_id uuid)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_capability_id IS NULL THEN
    RAISE EXCEPTION 'ensure_capability_node: p_capability_id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'capability' AND m.ext_table = 'capability' AND m.ext_uuid = p_capability_id;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- KEY SHARE keeps the capability from being deleted before the mapping commits.
  PERFORM 1 FROM capability e WHERE e.capability_id = p_capability_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_capability_node: capability % does not exist', p_capability_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  RETURN graph_node_map_insert('capability', 'capability', p_capability_id, NULL);
END
$$;

COMMENT ON FUNCTION ensure_capability_node(uuid) IS
  'Returns the graph_node_map id of capability p_capability_id, creating the mapping if needed (race-free). The capability must exist: otherwise SQLSTATE 23503; NULL raises 22004.';

CREATE OR REPLACE FUNCTION ensure_memory_cell_node(p_memory_cell_id uuid)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_memory_cell_id IS NULL THEN
    RAISE EXCEPTION 'ensure_memory_cell_node: p_memory_cell_id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'memory_cell' AND m.ext_table = 'memory_cell' AND m.ext_uuid = p_memory_cell_id;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- KEY SHARE keeps the memory cell from being deleted before the mapping commits.
  PERFORM 1 FROM memory_cell e WHERE e.memory_cell_id = p_memory_cell_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_memory_cell_node: memory cell % does not exist', p_memory_cell_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  RETURN graph_node_map_insert('memory_cell', 'memory_cell', p_memory_cell_id, NULL);
END
$$;

COMMENT ON FUNCTION ensure_memory_cell_node(uuid) IS
  'Returns the graph_node_map id of memory cell p_memory_cell_id, creating the mapping if needed (race-free). The memory cell must exist: otherwise SQLSTATE 23503; NULL raises 22004.';
CREATE OR REPLACE FUNCTION ensure_graph_node(p_node_type text, p_ext_id text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
BEGIN
  IF p_node_type IS NULL OR p_ext_id IS NULL THEN
    RAISE EXCEPTION 'ensure_graph_node: node type and id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  CASE p_node_type
    WHEN 'task'        THEN RETURN ensure_task_node(p_ext_id::uuid);
    WHEN 'agent'       THEN RETURN ensure_agent_node(p_ext_id);
    WHEN 'organ'       THEN RETURN ensure_organ_node(p_ext_id);
    WHEN 'artifact'    THEN RETURN ensure_artifact_node(p_ext_id::uuid);
    WHEN 'capability'  THEN RETURN ensure_capability_node(p_ext_id::uuid);
    WHEN 'memory_cell' THEN RETURN ensure_memory_cell_node(p_ext_id::uuid);
    WHEN 'fact'        THEN RETURN ensure_fact_node(p_ext_id::uuid);
    WHEN 'model'       THEN RETURN ensure_model_node(p_ext_id);
    WHEN 'policy'      THEN RETURN ensure_policy_node(p_ext_id);
    WHEN 'service'     THEN RETURN ensure_service_node(p_ext_id);
    WHEN 'skill'       THEN RETURN ensure_skill_node(p_ext_id);
    ELSE
      RAISE EXCEPTION 'ensure_graph_node: unknown node type "%"', p_node_type
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Node types: task, agent, organ, artifact, capability, memory_cell, fact, model, policy, service, skill.';
  END CASE;
END
$$;

COMMENT ON FUNCTION ensure_graph_node(text, text) IS
  'Dispatches to ensure_<node_type>_node(p_ext_id); uuid keys are passed as text. Unknown node type raises 22023. Used by the edge triggers.';

-- ---------------------------------------------------------------------------
-- Eager mapping and clean-up triggers.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION hgnn_edge_map_endpoints()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  v_row jsonb := to_jsonb(NEW);
BEGIN
  -- TG_ARGV: source node type, source column, target node type, target column.
  PERFORM ensure_graph_node(TG_ARGV[0], v_row ->> TG_ARGV[1]);
  PERFORM ensure_graph_node(TG_ARGV[2], v_row ->> TG_ARGV[3]);
  RETURN NULL;
END
$$;

COMMENT ON FUNCTION hgnn_edge_map_endpoints() IS
  'Row trigger on every edge table (AFTER INSERT OR UPDATE of the endpoint columns): maps both endpoints into graph_node_map, so hgnn_edges is a pure join. Arguments: source node type, source column, target node type, target column.';

CREATE OR REPLACE FUNCTION graph_node_map_entity_deleted()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  -- TG_ARGV: node type, key column of the entity table, key column of graph_node_map.
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM graph_node_map m
     WHERE m.node_type = TG_ARGV[0] AND m.ext_table = TG_TABLE_NAME::text;
  ELSE
    EXECUTE format('DELETE FROM graph_node_map m USING old_rows o'
                   ' WHERE m.node_type = $1 AND m.ext_table = $2 AND m.%I = o.%I',
                   TG_ARGV[2], TG_ARGV[1])
      USING TG_ARGV[0], TG_TABLE_NAME::text;
  END IF;
  RETURN NULL;
END
$$;

COMMENT ON FUNCTION graph_node_map_entity_deleted() IS
  'Statement trigger on every entity table (AFTER DELETE with transition table old_rows, and AFTER TRUNCATE): deletes the graph_node_map rows of the removed entities in one set-based statement; their embeddings follow by FK cascade. Arguments: node type, entity key column, map key column (ext_uuid or ext_text_id).';

-- Installs the delete/truncate triggers on entity tables. Where the delete trigger is not
-- there yet (first run, or an original database whose helpers mapped entities lazily and
-- without checks), existing map rows are first made consistent: text-keyed entities that
-- are mapped but not registered get registered, mappings of vanished uuid-keyed entities
-- are removed.
DO $$
DECLARE
  v_spec record;
  v_map_key text;
BEGIN
  FOR v_spec IN
    SELECT * FROM (VALUES
      ('tasks',          'task',        'id'),
      ('artifact',       'artifact',    'artifact_id'),
      ('capability',     'capability',  'capability_id'),
      ('memory_cell',    'memory_cell', 'memory_cell_id'),
      ('agent_registry', 'agent',       'agent_id'),
      ('organ_registry', 'organ',       'organ_id')
    ) AS s(tbl, node_type, key_col)
  LOOP
    v_map_key := CASE WHEN v_spec.node_type IN ('agent', 'organ') THEN 'ext_text_id' ELSE 'ext_uuid' END;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                    WHERE tgrelid = v_spec.tbl::regclass
                      AND tgname = format('trg_%s_graph_node_delete', v_spec.tbl)) THEN
      IF v_map_key = 'ext_text_id' THEN
        EXECUTE format('INSERT INTO %I (%I) SELECT m.ext_text_id FROM graph_node_map m'
                       ' WHERE m.node_type = $1 AND m.ext_table = $2 AND m.ext_text_id IS NOT NULL'
                       ' AND NOT EXISTS (SELECT 1 FROM %I e WHERE e.%I = m.ext_text_id)'
                       ' ORDER BY m.node_id ON CONFLICT DO NOTHING',
                       v_spec.tbl, v_spec.key_col, v_spec.tbl, v_spec.key_col)
          USING v_spec.node_type, v_spec.tbl;
      ELSE
        EXECUTE format('DELETE FROM graph_node_map m WHERE m.node_type = $1 AND m.ext_table = $2'
                       ' AND NOT EXISTS (SELECT 1 FROM %I e WHERE e.%I = m.ext_uuid)',
                       v_spec.tbl, v_spec.key_col)
          USING v_spec.node_type, v_spec.tbl;
      END IF;
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %I'
                   ' REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION graph_node_map_entity_deleted(%L, %L, %L)',
                   format('trg_%s_graph_node_delete', v_spec.tbl), v_spec.tbl,
                   v_spec.node_type, v_spec.key_col, v_map_key);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER TRUNCATE ON %I'
                   ' FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION graph_node_map_entity_deleted(%L, %L, %L)',
                   format('trg_%s_graph_node_truncate', v_spec.tbl), v_spec.tbl,
                   v_spec.node_type, v_spec.key_col, v_map_key);
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- Edge tables: task layer and cross-layer ("007 style": id BIGSERIAL, UNIQUE pair).
-- The UNIQUE constraint's index serves look-ups by the first endpoint (and the FK cascade
-- from it); each table also gets an index on the second endpoint for reverse traversal and
-- for the FK cascade from that side.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS task_depends_on_task (
  id          bigserial   PRIMARY KEY,
  src_task_id uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  dst_task_id uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (src_task_id, dst_task_id)
);
COMMENT ON TABLE task_depends_on_task IS 'Edge task -> task: src_task_id depends on dst_task_id (task__depends_on__task).';
CREATE INDEX IF NOT EXISTS idx_task_dep_dst ON task_depends_on_task (dst_task_id);

CREATE TABLE IF NOT EXISTS task_produces_artifact (
  id          bigserial   PRIMARY KEY,
  task_id     uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  artifact_id uuid        NOT NULL REFERENCES artifact (artifact_id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, artifact_id)
);
COMMENT ON TABLE task_produces_artifact IS 'Edge task -> artifact (task__produces__artifact).';
CREATE INDEX IF NOT EXISTS idx_task_produces_artifact_dst ON task_produces_artifact (artifact_id);

CREATE TABLE IF NOT EXISTS task_uses_capability (
  id            bigserial   PRIMARY KEY,
  task_id       uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  capability_id uuid        NOT NULL REFERENCES capability (capability_id) ON DELETE RESTRICT,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, capability_id)
);
COMMENT ON TABLE task_uses_capability IS 'Edge task -> capability (task__uses__capability); a capability in use cannot be deleted.';
CREATE INDEX IF NOT EXISTS idx_task_uses_capability_dst ON task_uses_capability (capability_id);

CREATE TABLE IF NOT EXISTS task_reads_memory (
  id             bigserial   PRIMARY KEY,
  task_id        uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  memory_cell_id uuid        NOT NULL REFERENCES memory_cell (memory_cell_id) ON DELETE RESTRICT,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, memory_cell_id)
);
COMMENT ON TABLE task_reads_memory IS 'Edge task -> memory_cell (task__reads__memory_cell); a memory cell in use cannot be deleted.';
CREATE INDEX IF NOT EXISTS idx_task_reads_memory_dst ON task_reads_memory (memory_cell_id);

CREATE TABLE IF NOT EXISTS task_writes_memory (
  id             bigserial   PRIMARY KEY,
  task_id        uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  memory_cell_id uuid        NOT NULL REFERENCES memory_cell (memory_cell_id) ON DELETE RESTRICT,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, memory_cell_id)
);
COMMENT ON TABLE task_writes_memory IS 'Edge task -> memory_cell (task__writes__memory_cell); a memory cell in use cannot be deleted.';
CREATE INDEX IF NOT EXISTS idx_task_writes_memory_dst ON task_writes_memory (memory_cell_id);

CREATE TABLE IF NOT EXISTS organ_provides_capability (
  id            bigserial   PRIMARY KEY,
  organ_id      text        NOT NULL REFERENCES organ_registry (organ_id) ON DELETE CASCADE,
  capability_id uuid        NOT NULL REFERENCES capability (capability_id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (organ_id, capability_id)
);
COMMENT ON TABLE organ_provides_capability IS 'Edge organ -> capability (organ__provides__capability).';
CREATE INDEX IF NOT EXISTS idx_organ_provides_capability_dst ON organ_provides_capability (capability_id);

CREATE TABLE IF NOT EXISTS agent_owns_memory_cell (
  id             bigserial   PRIMARY KEY,
  agent_id       text        NOT NULL REFERENCES agent_registry (agent_id) ON DELETE CASCADE,
  memory_cell_id uuid        NOT NULL REFERENCES memory_cell (memory_cell_id) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (agent_id, memory_cell_id)
);
COMMENT ON TABLE agent_owns_memory_cell IS 'Edge agent -> memory_cell (agent__owns__memory_cell).';
CREATE INDEX IF NOT EXISTS idx_agent_owns_memory_cell_dst ON agent_owns_memory_cell (memory_cell_id);

CREATE TABLE IF NOT EXISTS task_executed_by_organ (
  id         bigserial   PRIMARY KEY,
  task_id    uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  organ_id   text        NOT NULL REFERENCES organ_registry (organ_id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, organ_id)
);
COMMENT ON TABLE task_executed_by_organ IS 'Cross-layer edge task -> organ (task__executed_by__organ).';
CREATE INDEX IF NOT EXISTS idx_task_executed_by_organ_dst ON task_executed_by_organ (organ_id);

CREATE TABLE IF NOT EXISTS task_owned_by_agent (
  id         bigserial   PRIMARY KEY,
  task_id    uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  agent_id   text        NOT NULL REFERENCES agent_registry (agent_id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, agent_id)
);
COMMENT ON TABLE task_owned_by_agent IS 'Cross-layer edge task -> agent (task__owned_by__agent).';
CREATE INDEX IF NOT EXISTS idx_task_owned_by_agent_dst ON task_owned_by_agent (agent_id);

-- The original's single-column indexes on the first endpoint duplicate the leading column
-- of the UNIQUE constraint: dropped when found.
DO $$
DECLARE
  v_name text;
  v_idx  regclass;
BEGIN
  FOREACH v_name IN ARRAY ARRAY['idx_task_dep_src', 'idx_task_prod_task', 'idx_task_uses_task',
                                'idx_task_reads_task', 'idx_task_writes_task', 'idx_organ_cap_organ',
                                'idx_agent_mem_agent', 'idx_task_exec_task', 'idx_task_owned_task'] LOOP
    v_idx := NULL;
    SELECT c.oid::regclass INTO v_idx FROM pg_class c
     WHERE c.oid = to_regclass(v_name) AND c.relkind = 'i';
    IF v_idx IS NOT NULL THEN
      EXECUTE format('DROP INDEX %s', v_idx);
    END IF;
  END LOOP;
END
$$;

-- Endpoint-mapping triggers. Where a trigger is not there yet (first run, or an original
-- database), the endpoints of the edges already stored are mapped first.
DO $$
DECLARE
  v_spec record;
  v_trg  text;
BEGIN
  FOR v_spec IN
    SELECT * FROM (VALUES
      ('task_depends_on_task',      'task',  'src_task_id', 'task',        'dst_task_id'),
      ('task_produces_artifact',    'task',  'task_id',     'artifact',    'artifact_id'),
      ('task_uses_capability',      'task',  'task_id',     'capability',  'capability_id'),
      ('task_reads_memory',         'task',  'task_id',     'memory_cell', 'memory_cell_id'),
      ('task_writes_memory',        'task',  'task_id',     'memory_cell', 'memory_cell_id'),
      ('organ_provides_capability', 'organ', 'organ_id',    'capability',  'capability_id'),
      ('agent_owns_memory_cell',    'agent', 'agent_id',    'memory_cell', 'memory_cell_id'),
      ('task_executed_by_organ',    'task',  'task_id',     'organ',       'organ_id'),
      ('task_owned_by_agent',       'task',  'task_id',     'agent',       'agent_id')
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

-- ---------------------------------------------------------------------------
-- Views and task functions.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE VIEW task_embeddings AS
SELECT t.id AS task_id,
       m.node_id,
       e.emb,
       e.label,
       e.props,
       e.created_at,
       e.updated_at
  FROM tasks t
  JOIN graph_node_map m
    ON m.node_type = 'task' AND m.ext_table = 'tasks' AND m.ext_uuid = t.id
  JOIN graph_embeddings e
    ON e.node_id = m.node_id;

COMMENT ON VIEW task_embeddings IS
  'Tasks that have an embedding: task id, its graph node id, and the graph_embeddings row.';

CREATE OR REPLACE FUNCTION backfill_task_nodes()
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  v_count integer;
BEGIN
  INSERT INTO graph_node_map (node_type, ext_table, ext_uuid)
  SELECT 'task', 'tasks', t.id
    FROM tasks t
   WHERE NOT EXISTS (SELECT 1 FROM graph_node_map m
                      WHERE m.node_type = 'task' AND m.ext_table = 'tasks' AND m.ext_uuid = t.id)
   ORDER BY t.created_at, t.id
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

COMMENT ON FUNCTION backfill_task_nodes() IS
  'Maps every task that has no graph_node_map row yet (oldest first); returns the number of rows inserted.';

-- integer[] versions from an original database would make calls ambiguous.
DO $$
DECLARE
  v_fn regprocedure;
BEGIN
  FOREACH v_fn IN ARRAY ARRAY[
    to_regprocedure('create_graph_embed_task_v2(integer[], integer, text, text, text)'),
    to_regprocedure('create_graph_rag_task_v2(integer[], integer, integer, text, text, text)')
  ] LOOP
    IF v_fn IS NOT NULL THEN
      EXECUTE format('DROP FUNCTION %s', v_fn);
    END IF;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION create_graph_embed_task_v2(
  start_node_ids bigint[],
  k_hops         integer DEFAULT 2,
  description    text    DEFAULT NULL,
  p_agent_id     text    DEFAULT NULL,
  p_organ_id     text    DEFAULT NULL
)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
  v_id uuid;
BEGIN
  v_id := create_graph_embed_task(start_node_ids, k_hops, create_graph_embed_task_v2.description);

  IF p_agent_id IS NOT NULL THEN
    INSERT INTO agent_registry (agent_id) VALUES (p_agent_id) ON CONFLICT (agent_id) DO NOTHING;
    INSERT INTO task_owned_by_agent (task_id, agent_id) VALUES (v_id, p_agent_id) ON CONFLICT DO NOTHING;
  END IF;
  IF p_organ_id IS NOT NULL THEN
    INSERT INTO organ_registry AS o (organ_id, agent_id) VALUES (p_organ_id, p_agent_id)
    ON CONFLICT (organ_id) DO UPDATE SET agent_id = EXCLUDED.agent_id
     WHERE o.agent_id IS NULL AND EXCLUDED.agent_id IS NOT NULL;
    INSERT INTO task_executed_by_organ (task_id, organ_id) VALUES (v_id, p_organ_id) ON CONFLICT DO NOTHING;
  END IF;

  PERFORM ensure_task_node(v_id);
  RETURN v_id;
END
$$;

COMMENT ON FUNCTION create_graph_embed_task_v2(bigint[], integer, text, text, text) IS
  'create_graph_embed_task, then: registers p_agent_id / p_organ_id if new (an existing organ without agent gets p_agent_id), links the task to them (task_owned_by_agent, task_executed_by_organ) and maps the task into graph_node_map. Returns the task id.';

CREATE OR REPLACE FUNCTION create_graph_rag_task_v2(
  start_node_ids bigint[],
  k_hops         integer DEFAULT 2,
  top_k          integer DEFAULT 10,
  description    text    DEFAULT NULL,
  p_agent_id     text    DEFAULT NULL,
  p_organ_id     text    DEFAULT NULL
)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
  v_id uuid;
BEGIN
  v_id := create_graph_rag_task(start_node_ids, k_hops, top_k, create_graph_rag_task_v2.description);

  IF p_agent_id IS NOT NULL THEN
    INSERT INTO agent_registry (agent_id) VALUES (p_agent_id) ON CONFLICT (agent_id) DO NOTHING;
    INSERT INTO task_owned_by_agent (task_id, agent_id) VALUES (v_id, p_agent_id) ON CONFLICT DO NOTHING;
  END IF;
  IF p_organ_id IS NOT NULL THEN
    INSERT INTO organ_registry AS o (organ_id, agent_id) VALUES (p_organ_id, p_agent_id)
    ON CONFLICT (organ_id) DO UPDATE SET agent_id = EXCLUDED.agent_id
     WHERE o.agent_id IS NULL AND EXCLUDED.agent_id IS NOT NULL;
    INSERT INTO task_executed_by_organ (task_id, organ_id) VALUES (v_id, p_organ_id) ON CONFLICT DO NOTHING;
  END IF;

  PERFORM ensure_task_node(v_id);
  RETURN v_id;
END
$$;

COMMENT ON FUNCTION create_graph_rag_task_v2(bigint[], integer, integer, text, text, text) IS
  'create_graph_rag_task, then: registers p_agent_id / p_organ_id if new (an existing organ without agent gets p_agent_id), links the task to them (task_owned_by_agent, task_executed_by_organ) and maps the task into graph_node_map. Returns the task id.';

COMMIT;
