-- 010_task_fact_integration.sql
--
-- Heterogeneous graph, part 3: facts become graph nodes (ensure_fact_node), tasks read and
-- produce facts (two edge tables), and the final hgnn_edges view over all 17 edge tables.

BEGIN;

-- ---------------------------------------------------------------------------
-- Fact nodes (see 007 for the shared helper semantics).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION ensure_fact_node(p_fact_id uuid)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_fact_id IS NULL THEN
    RAISE EXCEPTION 'ensure_fact_node: p_fact_id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  SELECT m.node_id INTO v_id
    FROM graph_node_map m
   WHERE m.node_type = 'fact' AND m.ext_table = 'facts' AND m.ext_uuid = p_fact_id;
  IF FOUND THEN
    RETURN v_id;
  END IF;

  -- KEY SHARE keeps the fact from being deleted before the mapping commits.
  PERFORM 1 FROM facts e WHERE e.id = p_fact_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'ensure_fact_node: fact % does not exist', p_fact_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  RETURN graph_node_map_insert('fact', 'facts', p_fact_id, NULL);
END
$$;

COMMENT ON FUNCTION ensure_fact_node(uuid) IS
  'Returns the graph_node_map id of fact p_fact_id, creating the mapping if needed (race-free). The fact must exist: otherwise SQLSTATE 23503; NULL raises 22004.';
-- Delete/truncate triggers on facts (same mechanism as 007); mappings of facts that no
-- longer exist are removed first.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                  WHERE tgrelid = 'facts'::regclass AND tgname = 'trg_facts_graph_node_delete') THEN
    DELETE FROM graph_node_map m
     WHERE m.node_type = 'fact' AND m.ext_table = 'facts'
       AND NOT EXISTS (SELECT 1 FROM facts f WHERE f.id = m.ext_uuid);
  END IF;
END
$$;

CREATE OR REPLACE TRIGGER trg_facts_graph_node_delete
  AFTER DELETE ON facts
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION graph_node_map_entity_deleted('fact', 'id', 'ext_uuid');

CREATE OR REPLACE TRIGGER trg_facts_graph_node_truncate
  AFTER TRUNCATE ON facts
  FOR EACH STATEMENT
  EXECUTE FUNCTION graph_node_map_entity_deleted('fact', 'id', 'ext_uuid');

-- ---------------------------------------------------------------------------
-- Task <-> fact edges ("007 style"; reverse index on fact_id).
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS task_reads_fact (
  id         bigserial   PRIMARY KEY,
  task_id    uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  fact_id    uuid        NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, fact_id)
);
COMMENT ON TABLE task_reads_fact IS 'Edge task -> fact: the task read the fact (task__reads__fact).';
CREATE INDEX IF NOT EXISTS idx_task_reads_fact_fact ON task_reads_fact (fact_id);

CREATE TABLE IF NOT EXISTS task_produces_fact (
  id         bigserial   PRIMARY KEY,
  task_id    uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  fact_id    uuid        NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_id, fact_id)
);
COMMENT ON TABLE task_produces_fact IS 'Edge task -> fact: the task produced the fact (task__produces__fact).';
CREATE INDEX IF NOT EXISTS idx_task_produces_fact_fact ON task_produces_fact (fact_id);

-- The original's indexes on task_id duplicate the UNIQUE constraint's leading column.
DO $$
DECLARE
  v_name text;
  v_idx  regclass;
BEGIN
  FOREACH v_name IN ARRAY ARRAY['idx_task_reads_fact_task', 'idx_task_produces_fact_task'] LOOP
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
      ('task_reads_fact',    'task', 'task_id', 'fact', 'fact_id'),
      ('task_produces_fact', 'task', 'task_id', 'fact', 'fact_id')
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
-- hgnn_edges: every edge of the heterogeneous graph as (src_node_id, dst_node_id,
-- edge_type), edge_type = '<src type>__<relation>__<dst type>'. A pure read: node ids were
-- assigned when the edges were written, so this is plain inner joins on graph_node_map;
-- it works in READ ONLY transactions and on replicas. Defined once, here, in its final
-- form (17 edge types), so re-running any single migration never narrows it.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE VIEW hgnn_edges AS
SELECT s.node_id AS src_node_id, d.node_id AS dst_node_id, 'task__depends_on__task'::text AS edge_type
  FROM task_depends_on_task e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.src_task_id
  JOIN graph_node_map d ON d.node_type = 'task' AND d.ext_table = 'tasks' AND d.ext_uuid = e.dst_task_id
UNION ALL
SELECT s.node_id, d.node_id, 'task__produces__artifact'::text
  FROM task_produces_artifact e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.task_id
  JOIN graph_node_map d ON d.node_type = 'artifact' AND d.ext_table = 'artifact' AND d.ext_uuid = e.artifact_id
UNION ALL
SELECT s.node_id, d.node_id, 'task__uses__capability'::text
  FROM task_uses_capability e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.task_id
  JOIN graph_node_map d ON d.node_type = 'capability' AND d.ext_table = 'capability' AND d.ext_uuid = e.capability_id
UNION ALL
SELECT s.node_id, d.node_id, 'task__reads__memory_cell'::text
  FROM task_reads_memory e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.task_id
  JOIN graph_node_map d ON d.node_type = 'memory_cell' AND d.ext_table = 'memory_cell' AND d.ext_uuid = e.memory_cell_id
UNION ALL
SELECT s.node_id, d.node_id, 'task__writes__memory_cell'::text
  FROM task_writes_memory e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.task_id
  JOIN graph_node_map d ON d.node_type = 'memory_cell' AND d.ext_table = 'memory_cell' AND d.ext_uuid = e.memory_cell_id
UNION ALL
SELECT s.node_id, d.node_id, 'task__executed_by__organ'::text
  FROM task_executed_by_organ e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.task_id
  JOIN graph_node_map d ON d.node_type = 'organ' AND d.ext_table = 'organ_registry' AND d.ext_text_id = e.organ_id
UNION ALL
SELECT s.node_id, d.node_id, 'task__owned_by__agent'::text
  FROM task_owned_by_agent e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.task_id
  JOIN graph_node_map d ON d.node_type = 'agent' AND d.ext_table = 'agent_registry' AND d.ext_text_id = e.agent_id
UNION ALL
SELECT s.node_id, d.node_id, 'agent__member_of__organ'::text
  FROM agent_member_of_organ e
  JOIN graph_node_map s ON s.node_type = 'agent' AND s.ext_table = 'agent_registry' AND s.ext_text_id = e.agent_id
  JOIN graph_node_map d ON d.node_type = 'organ' AND d.ext_table = 'organ_registry' AND d.ext_text_id = e.organ_id
UNION ALL
SELECT s.node_id, d.node_id, 'agent__collab__agent'::text
  FROM agent_collab_agent e
  JOIN graph_node_map s ON s.node_type = 'agent' AND s.ext_table = 'agent_registry' AND s.ext_text_id = e.src_agent
  JOIN graph_node_map d ON d.node_type = 'agent' AND d.ext_table = 'agent_registry' AND d.ext_text_id = e.dst_agent
UNION ALL
SELECT s.node_id, d.node_id, 'organ__provides__skill'::text
  FROM organ_provides_skill e
  JOIN graph_node_map s ON s.node_type = 'organ' AND s.ext_table = 'organ_registry' AND s.ext_text_id = e.organ_id
  JOIN graph_node_map d ON d.node_type = 'skill' AND d.ext_table = 'skill' AND d.ext_text_id = e.skill_name
UNION ALL
SELECT s.node_id, d.node_id, 'organ__uses__service'::text
  FROM organ_uses_service e
  JOIN graph_node_map s ON s.node_type = 'organ' AND s.ext_table = 'organ_registry' AND s.ext_text_id = e.organ_id
  JOIN graph_node_map d ON d.node_type = 'service' AND d.ext_table = 'service' AND d.ext_text_id = e.service_name
UNION ALL
SELECT s.node_id, d.node_id, 'agent__uses__model'::text
  FROM agent_uses_model e
  JOIN graph_node_map s ON s.node_type = 'agent' AND s.ext_table = 'agent_registry' AND s.ext_text_id = e.agent_id
  JOIN graph_node_map d ON d.node_type = 'model' AND d.ext_table = 'model' AND d.ext_text_id = e.model_name
UNION ALL
SELECT s.node_id, d.node_id, 'organ__governed_by__policy'::text
  FROM organ_governed_by_policy e
  JOIN graph_node_map s ON s.node_type = 'organ' AND s.ext_table = 'organ_registry' AND s.ext_text_id = e.organ_id
  JOIN graph_node_map d ON d.node_type = 'policy' AND d.ext_table = 'policy' AND d.ext_text_id = e.policy_name
UNION ALL
SELECT s.node_id, d.node_id, 'task__reads__fact'::text
  FROM task_reads_fact e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.task_id
  JOIN graph_node_map d ON d.node_type = 'fact' AND d.ext_table = 'facts' AND d.ext_uuid = e.fact_id
UNION ALL
SELECT s.node_id, d.node_id, 'task__produces__fact'::text
  FROM task_produces_fact e
  JOIN graph_node_map s ON s.node_type = 'task' AND s.ext_table = 'tasks' AND s.ext_uuid = e.task_id
  JOIN graph_node_map d ON d.node_type = 'fact' AND d.ext_table = 'facts' AND d.ext_uuid = e.fact_id
UNION ALL
SELECT s.node_id, d.node_id, 'organ__provides__capability'::text
  FROM organ_provides_capability e
  JOIN graph_node_map s ON s.node_type = 'organ' AND s.ext_table = 'organ_registry' AND s.ext_text_id = e.organ_id
  JOIN graph_node_map d ON d.node_type = 'capability' AND d.ext_table = 'capability' AND d.ext_uuid = e.capability_id
UNION ALL
SELECT s.node_id, d.node_id, 'agent__owns__memory_cell'::text
  FROM agent_owns_memory_cell e
  JOIN graph_node_map s ON s.node_type = 'agent' AND s.ext_table = 'agent_registry' AND s.ext_text_id = e.agent_id
  JOIN graph_node_map d ON d.node_type = 'memory_cell' AND d.ext_table = 'memory_cell' AND d.ext_uuid = e.memory_cell_id;

COMMENT ON VIEW hgnn_edges IS
  'All edges of the heterogeneous graph for DGL export: (src_node_id, dst_node_id, edge_type) with graph_node_map ids; edge_type = <src type>__<relation>__<dst type>, 17 types. Read-only: node ids are assigned when edges are written.';

COMMIT;
