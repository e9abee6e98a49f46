-- 002_graph_embeddings.sql
--
-- 128-dimensional node embeddings (pgvector) for similarity search over graph nodes.
-- node_id is a graph_node_map.node_id (one id namespace for the whole graph); the foreign
-- key that enforces this is added by 007, once graph_node_map exists.

BEGIN;

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS graph_embeddings (
  node_id    bigint      NOT NULL,
  label      text,
  props      jsonb,
  emb        vector(128) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT graph_embeddings_pkey PRIMARY KEY (node_id)
);

COMMENT ON TABLE graph_embeddings IS
  'One 128-d embedding per graph node. node_id is a graph_node_map.node_id (FK added in 007); L2 distance.';
COMMENT ON COLUMN graph_embeddings.node_id IS 'graph_node_map.node_id of the embedded node.';
COMMENT ON COLUMN graph_embeddings.label IS 'Optional label of the node (e.g. its type).';
COMMENT ON COLUMN graph_embeddings.props IS 'Optional properties of the node (JSON).';
COMMENT ON COLUMN graph_embeddings.emb IS '128-d embedding vector.';

-- Approximate nearest-neighbour index (L2). Built here on an empty table, which gives poor
-- recall once data arrives: the application rebuilds it after loading (keeping this name,
-- with a lists value fitted to the row count) and tunes ivfflat.probes per query. Because
-- of that rebuild, this file only creates the index when no index of this name exists.
CREATE INDEX IF NOT EXISTS idx_graph_embeddings_emb
  ON graph_embeddings USING ivfflat (emb vector_l2_ops) WITH (lists = 100);

CREATE OR REPLACE FUNCTION update_graph_embeddings_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

COMMENT ON FUNCTION update_graph_embeddings_updated_at() IS
  'Trigger function: sets graph_embeddings.updated_at to now().';

CREATE OR REPLACE TRIGGER trg_graph_embeddings_updated_at
  BEFORE UPDATE ON graph_embeddings
  FOR EACH ROW
  EXECUTE FUNCTION update_graph_embeddings_updated_at();

COMMIT;
