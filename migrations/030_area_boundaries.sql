-- 030_area_boundaries.sql
--
-- Named functions through which the task area reaches the registry's and the graph's tables,
-- so each table is named in SQL only by the area that owns it (docs/architecture.md, "Which
-- component owns which tables"). Behaviour is that of the statements they replace.
--
-- Registry (owner of registry_instance and cluster_metadata):
-- * registry_dead_instance_ids(): the instance ids, as text (the form tasks.owner_id takes),
--   of registry instances that are dead or whose last heartbeat is older than
--   cluster_metadata.liveness_seconds (15 without a cluster_metadata row). Recovery moves the
--   running tasks of these owners. An owner id that is no registry instance is not in the set.
--
-- Graph (owner of graph_node_map, the entity tables and their edges):
-- * graph_linked_task_ids(): the ids of tasks that have a graph node (every edge write maps
--   its endpoints, 007). Retention keeps these tasks.
-- * graph_register_agents(ids), graph_register_organs(organ ids, agent ids): the agent and
--   organ rows a task binding names, inserted when missing (an existing row is unchanged;
--   an organ named twice takes the first non-NULL agent id in sort order).
-- * graph_link_task_capabilities(task ids, names, minimum versions): registers the named
--   capabilities when missing and adds the task__uses__capability edges with their minimum
--   version (NULL: any); an edge that exists is unchanged.
-- Rows are inserted in key order, so concurrent submissions lock them in the same order.
--
-- The two read functions are SQL-language, STABLE and without arguments, so the planner
-- inlines them: NOT EXISTS (SELECT 1 FROM graph_linked_task_ids() g WHERE g.id = t.id) is
-- planned as the anti-join on graph_node_map's (ext_uuid, node_type, ext_table) key that the
-- table access it replaces got, and recovery's dead-owner set is the same scan of
-- registry_instance.
--
-- Idempotent: CREATE OR REPLACE FUNCTION only.

BEGIN;

CREATE OR REPLACE FUNCTION registry_dead_instance_ids()
RETURNS SETOF text
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
  SELECT ri.instance_id::text
    FROM registry_instance ri LEFT JOIN cluster_metadata cm ON cm.id = 1
   WHERE ri.status = 'dead' OR ri.last_heartbeat < now() - make_interval(secs => coalesce(cm.liveness_seconds, 15))
$$;
COMMENT ON FUNCTION registry_dead_instance_ids() IS
  'Instance ids (text) of registry instances that are dead or silent for longer than cluster_metadata.liveness_seconds (15 without the row), by the database clock (030).';

CREATE OR REPLACE FUNCTION graph_linked_task_ids()
RETURNS SETOF uuid
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
  SELECT m.ext_uuid FROM graph_node_map m WHERE m.node_type = 'task' AND m.ext_table = 'tasks'
$$;
COMMENT ON FUNCTION graph_linked_task_ids() IS
  'Ids of the tasks that have a graph node (graph_node_map); inlined by the planner, so a NOT EXISTS over it is an anti-join on the node map''s key (030).';

CREATE OR REPLACE FUNCTION graph_register_agents(p_agent_ids text[])
RETURNS void
LANGUAGE sql
AS $$
  INSERT INTO agent_registry (agent_id)
  SELECT DISTINCT a FROM unnest(p_agent_ids) a ORDER BY a
  ON CONFLICT DO NOTHING;
$$;
COMMENT ON FUNCTION graph_register_agents(text[]) IS
  'Inserts the agent_registry rows of these agent ids that are missing, in id order (030).';

CREATE OR REPLACE FUNCTION graph_register_organs(p_organ_ids text[], p_agent_ids text[])
RETURNS void
LANGUAGE sql
AS $$
  INSERT INTO organ_registry (organ_id, agent_id)
  SELECT DISTINCT ON (o) o, a FROM unnest(p_organ_ids, p_agent_ids) AS x(o, a) ORDER BY o, a NULLS LAST
  ON CONFLICT DO NOTHING;
$$;
COMMENT ON FUNCTION graph_register_organs(text[], text[]) IS
  'Inserts the organ_registry rows of these organ ids that are missing, with the agent id at the same position (an organ named twice: the first non-NULL agent id in sort order), in id order (030).';

CREATE OR REPLACE FUNCTION graph_link_task_capabilities(p_task_ids uuid[], p_names text[], p_min_versions text[])
RETURNS void
LANGUAGE sql
AS $$
  INSERT INTO capability (name)
  SELECT DISTINCT n FROM unnest(p_names) n ORDER BY n
  ON CONFLICT (name) DO NOTHING;
  INSERT INTO task_uses_capability (task_id, capability_id, min_version)
  SELECT x.task_id, c.capability_id, x.min_version
    FROM unnest(p_task_ids, p_names, p_min_versions) AS x(task_id, name, min_version)
    JOIN capability c ON c.name = x.name
  ON CONFLICT DO NOTHING;
$$;
COMMENT ON FUNCTION graph_link_task_capabilities(uuid[], text[], text[]) IS
  'Registers the named capabilities that are missing and adds the task__uses__capability edges (task, capability, minimum version; NULL: any) at the same positions; existing edges are unchanged (030).';

COMMIT;
