-- 003_graph_task_types.sql
--
-- Graph task types (graph_embed, graph_rag_query): the graph_tasks monitoring view and the
-- two task creators. Node ids are bigint (graph_node_map ids are BIGSERIAL); calls that pass
-- integer[] still resolve, through the implicit integer[] -> bigint[] coercion.

BEGIN;

-- An original database has integer[] versions of the creators. Next to the bigint[] ones
-- they would make calls with an untyped array literal ambiguous, so they go.
DO $$
DECLARE
  v_fn regprocedure;
BEGIN
  FOREACH v_fn IN ARRAY ARRAY[
    to_regprocedure('create_graph_embed_task(integer[], integer, text)'),
    to_regprocedure('create_graph_rag_task(integer[], integer, integer, text)')
  ] LOOP
    IF v_fn IS NOT NULL THEN
      EXECUTE format('DROP FUNCTION %s', v_fn);
    END IF;
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- graph_tasks: monitoring view over the graph task types (final shape; 004 and 005
-- re-create it identically). A view of an older shape (columns in another order) cannot
-- be replaced in place, so it is dropped first.
-- ---------------------------------------------------------------------------
DO $$
BEGIN
  IF to_regclass('graph_tasks') IS NOT NULL
     AND (SELECT string_agg(attname, ',' ORDER BY attnum)
            FROM pg_attribute
           WHERE attrelid = to_regclass('graph_tasks') AND attnum > 0 AND NOT attisdropped)
         <> 'id,type,status,attempts,locked_by,locked_at,run_after,params,result,error,created_at,updated_at,drift_score,status_emoji'
  THEN
    DROP VIEW graph_tasks;
  END IF;
END
$$;

CREATE OR REPLACE VIEW graph_tasks AS
SELECT t.id,
       t.type,
       t.status,
       t.attempts,
       t.locked_by,
       t.locked_at,
       t.run_after,
       t.params,
       t.result,
       t.error,
       t.created_at,
       t.updated_at,
       t.drift_score,
       CASE t.status
         WHEN 'completed' THEN '✅'
         WHEN 'running'   THEN '🔄'
         WHEN 'queued'    THEN '⏳'
         WHEN 'failed'    THEN '❌'
         WHEN 'retry'     THEN '🔄'
         WHEN 'created'   THEN '📝'
         WHEN 'cancelled' THEN '❌'
         ELSE '❓'
       END AS status_emoji
  FROM tasks t
 WHERE t.type IN ('graph_embed', 'graph_rag_query')
 ORDER BY t.updated_at DESC, t.id;

COMMENT ON VIEW graph_tasks IS
  'Graph tasks (graph_embed, graph_rag_query), most recently updated first, with a status emoji for dashboards.';

-- ---------------------------------------------------------------------------
-- Task creators. Both insert one queued task and return its id; they do not map the task
-- into graph_node_map (the _v2 variants of 007 do).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION create_graph_embed_task(
  start_node_ids bigint[],
  k_hops         integer DEFAULT 2,
  description    text    DEFAULT NULL
)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF k_hops IS NULL OR k_hops < 1 THEN
    RAISE EXCEPTION 'create_graph_embed_task: k_hops must be an integer >= 1 (got %)',
                    coalesce(k_hops::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF array_ndims(start_node_ids) > 1
     OR array_position(start_node_ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'create_graph_embed_task: start_node_ids must be a one-dimensional array without NULL elements'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO tasks (type, status, description, params, drift_score)
  VALUES ('graph_embed',
          'queued',
          coalesce(create_graph_embed_task.description,
                   format('Embed %s-hop neighborhood around nodes %s',
                          k_hops, coalesce(array_to_string(start_node_ids, ', '), ''))),
          jsonb_build_object('start_ids', coalesce(to_jsonb(start_node_ids), '[]'::jsonb),
                             'k', k_hops),
          0.0)
  RETURNING id INTO v_id;

  RETURN v_id;
END
$$;

COMMENT ON FUNCTION create_graph_embed_task(bigint[], integer, text) IS
  'Queues a graph_embed task for the k_hops-neighbourhood of start_node_ids (graph_node_map ids); params = {"start_ids": [...], "k": k_hops}. Returns the task id. k_hops < 1 or NULL raises 22023.';

CREATE OR REPLACE FUNCTION create_graph_rag_task(
  start_node_ids bigint[],
  k_hops         integer DEFAULT 2,
  top_k          integer DEFAULT 10,
  description    text    DEFAULT NULL
)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF k_hops IS NULL OR k_hops < 1 THEN
    RAISE EXCEPTION 'create_graph_rag_task: k_hops must be an integer >= 1 (got %)',
                    coalesce(k_hops::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF top_k IS NULL OR top_k < 1 THEN
    RAISE EXCEPTION 'create_graph_rag_task: top_k must be an integer >= 1 (got %)',
                    coalesce(top_k::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF array_ndims(start_node_ids) > 1
     OR array_position(start_node_ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'create_graph_rag_task: start_node_ids must be a one-dimensional array without NULL elements'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO tasks (type, status, description, params, drift_score)
  VALUES ('graph_rag_query',
          'queued',
          coalesce(create_graph_rag_task.description,
                   format('RAG query %s-hop neighborhood around nodes %s, top %s',
                          k_hops, coalesce(array_to_string(start_node_ids, ', '), ''), top_k)),
          jsonb_build_object('start_ids', coalesce(to_jsonb(start_node_ids), '[]'::jsonb),
                             'k', k_hops,
                             'topk', top_k),
          0.0)
  RETURNING id INTO v_id;

  RETURN v_id;
END
$$;

COMMENT ON FUNCTION create_graph_rag_task(bigint[], integer, integer, text) IS
  'Queues a graph_rag_query task: embed the k_hops-neighbourhood of start_node_ids and return the top_k nearest nodes; params = {"start_ids": [...], "k": k_hops, "topk": top_k}. Returns the task id. k_hops or top_k < 1 or NULL raises 22023.';

COMMIT;
