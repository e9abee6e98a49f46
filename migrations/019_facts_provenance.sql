-- 019_facts_provenance.sql
--
-- Facts agents can trust: every fact answers who said it, from what, when, how sure, and
-- what contradicts it.
--
-- * Columns on facts (all nullable or with a constant default, so adding them to a large
--   table is a catalogue change, not a rewrite):
--     subject, predicate, object  the statement the fact makes, when it makes one: facts with
--                                 the same subject and predicate are about the same thing, and
--                                 their value is coalesce(object, text). Columns rather than
--                                 metadata keys so they can be indexed, constrained (both or
--                                 neither) and named in plain SQL.
--     confidence                  in [0, 1], default 1 (an assertion without a stated doubt).
--     valid_from, valid_to        when the fact holds; valid_from NULL (facts older than this
--                                 migration) means since created_at. valid_to set = the fact is
--                                 invalidated: it stays readable, with invalid_reason.
--     version                     1 for a new fact, +1 on each update that changes it.
--     superseded                  true while another current fact of the same subject and
--                                 predicate wins under the predicate's resolution policy;
--                                 search leaves superseded facts out.
-- * fact_versions: a BEFORE UPDATE trigger copies the previous version of a fact there, so an
--   update from any client (psql too) keeps the history.
-- * fact_sources: who asserted a fact (task, agent, organ, artifact or external URI). Refs are
--   kept as text without foreign keys: provenance outlives task retention.
-- * fact_derives_from_fact: the 18th edge type, fact__derives_from__fact (src derives from
--   dst), with its endpoints mapped into graph_node_map on write like the other 17.
-- * fact_conflicts and fact_predicate_policies: an AFTER trigger records a conflict when a
--   current fact gets the same subject and predicate as another visible current fact but a
--   different value. It first takes a transaction-scoped advisory lock on (subject,
--   predicate), and each statement of a PL/pgSQL function takes a fresh snapshot under READ
--   COMMITTED, so concurrent writers of one subject/predicate are serialised and each sees
--   the facts committed before it: no conflict is missed or recorded twice.
-- * search_vector is redefined over the text with < and > turned into spaces: the English
--   parser otherwise reads "<script>…</script>" as markup and drops it, so such text could
--   not be found. On an existing database this rewrites facts once and rebuilds
--   idx_facts_text_search (about as long as migration 016 takes).
-- * hgnn_edges is redefined with all 18 edge types (010's definition plus derives_from).

BEGIN;

-- ---------------------------------------------------------------------------
-- New fact columns and their constraints.
-- ---------------------------------------------------------------------------
ALTER TABLE facts ADD COLUMN IF NOT EXISTS subject        text;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS predicate      text;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS object         text;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS confidence     double precision NOT NULL DEFAULT 1;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS valid_from     timestamptz;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS valid_to       timestamptz;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS invalid_reason text;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS version        integer NOT NULL DEFAULT 1;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS superseded     boolean NOT NULL DEFAULT false;
-- New facts hold from the moment they are written unless told otherwise.
ALTER TABLE facts ALTER COLUMN valid_from SET DEFAULT now();

DO $$
DECLARE
  v_spec record;
BEGIN
  FOR v_spec IN
    SELECT * FROM (VALUES
      ('facts_confidence_range',  'CHECK (confidence >= 0 AND confidence <= 1)'),
      ('facts_subject_predicate', 'CHECK ((subject IS NULL) = (predicate IS NULL))'),
      ('facts_validity_order',    'CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from)')
    ) AS s(name, def)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'facts'::regclass AND conname = v_spec.name) THEN
      EXECUTE format('ALTER TABLE facts ADD CONSTRAINT %I %s', v_spec.name, v_spec.def);
    END IF;
  END LOOP;
END
$$;

COMMENT ON COLUMN facts.subject IS 'What the fact is about (with predicate): facts with the same subject and predicate can conflict (019).';
COMMENT ON COLUMN facts.predicate IS 'The property the fact states about subject; its resolution policy is in fact_predicate_policies (019).';
COMMENT ON COLUMN facts.object IS 'The value stated for subject/predicate; conflicts compare coalesce(object, text) (019).';
COMMENT ON COLUMN facts.confidence IS 'How sure the asserter is, 0..1 (019); search ranks by ts_rank_cd × (0.5 + 0.5 × confidence).';
COMMENT ON COLUMN facts.valid_from IS 'When the fact starts to hold; NULL = since created_at (019).';
COMMENT ON COLUMN facts.valid_to IS 'When the fact stopped holding (invalidated); NULL = still valid (019).';
COMMENT ON COLUMN facts.invalid_reason IS 'Why the fact was invalidated (019).';
COMMENT ON COLUMN facts.version IS 'Current version number; earlier versions are in fact_versions (019).';
COMMENT ON COLUMN facts.superseded IS 'True while another current fact of the same subject/predicate wins under the predicate policy; search skips it (019).';

-- Group look-ups of conflict detection and policy changes: (predicate, subject) serves both
-- "this subject and predicate" and "every subject of this predicate".
CREATE INDEX IF NOT EXISTS idx_facts_predicate_subject ON facts (predicate, subject) WHERE predicate IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Search vector: markup characters become spaces before parsing (see the header).
-- ---------------------------------------------------------------------------
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
     WHERE d.adrelid = 'facts'::regclass AND a.attname = 'search_vector'
       AND pg_get_expr(d.adbin, d.adrelid) LIKE '%translate(%'
  ) THEN
    DROP INDEX IF EXISTS idx_facts_text_search;
    ALTER TABLE facts DROP COLUMN IF EXISTS search_vector;
    ALTER TABLE facts ADD COLUMN search_vector tsvector
      GENERATED ALWAYS AS (to_tsvector('english', translate(text, '<>', '  '))) STORED;
    CREATE INDEX idx_facts_text_search ON facts USING gin (search_vector, tags, meta_data jsonb_path_ops);
  END IF;
END
$$;

COMMENT ON COLUMN facts.search_vector IS
  'to_tsvector(''english'', translate(text, ''<>'', ''  '')), stored (019): match with search_vector @@ websearch_to_tsquery(''english'', translate(q, ''<>'', ''  '')) through idx_facts_text_search.';
COMMENT ON INDEX idx_facts_text_search IS
  'Facts search: search_vector @@ tsquery, tags &&/@>, meta_data @> in one GIN scan (016, 019).';

-- ---------------------------------------------------------------------------
-- Versions.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS fact_versions (
  fact_id        uuid             NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
  version        integer          NOT NULL,
  text           text             NOT NULL,
  tags           text[],
  meta_data      jsonb,
  subject        text,
  predicate      text,
  object         text,
  confidence     double precision NOT NULL,
  valid_from     timestamptz,
  valid_to       timestamptz,
  invalid_reason text,
  recorded_at    timestamptz      NOT NULL,
  replaced_at    timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (fact_id, version)
);
COMMENT ON TABLE fact_versions IS
  'Earlier versions of facts, one row per replaced version (019): recorded_at is when it became current, replaced_at when an update replaced it. The current version is the facts row.';

CREATE OR REPLACE FUNCTION facts_keep_version()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO fact_versions (fact_id, version, text, tags, meta_data, subject, predicate, object,
                             confidence, valid_from, valid_to, invalid_reason, recorded_at)
  VALUES (OLD.id, OLD.version, OLD.text, OLD.tags, OLD.meta_data, OLD.subject, OLD.predicate, OLD.object,
          OLD.confidence, coalesce(OLD.valid_from, OLD.created_at), OLD.valid_to, OLD.invalid_reason, OLD.updated_at)
  ON CONFLICT (fact_id, version) DO NOTHING;
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION facts_keep_version() IS
  'Trigger function (BEFORE UPDATE on facts, when the fact changes): copies the previous version into fact_versions and numbers the new one.';

-- Only changes of what the fact says count; superseded and the timestamps do not.
CREATE OR REPLACE TRIGGER trg_facts_keep_version
  BEFORE UPDATE ON facts
  FOR EACH ROW
  WHEN ((OLD.text, OLD.tags, OLD.meta_data, OLD.subject, OLD.predicate, OLD.object, OLD.confidence, OLD.valid_from, OLD.valid_to, OLD.invalid_reason)
        IS DISTINCT FROM
        (NEW.text, NEW.tags, NEW.meta_data, NEW.subject, NEW.predicate, NEW.object, NEW.confidence, NEW.valid_from, NEW.valid_to, NEW.invalid_reason))
  EXECUTE FUNCTION facts_keep_version();

-- ---------------------------------------------------------------------------
-- Sources.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS fact_sources (
  id         bigserial   PRIMARY KEY,
  fact_id    uuid        NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
  kind       text        NOT NULL CHECK (kind IN ('task', 'agent', 'organ', 'artifact', 'uri')),
  ref        text        NOT NULL CHECK (ref <> ''),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (fact_id, kind, ref)
);
COMMENT ON TABLE fact_sources IS
  'Who asserted a fact (019): kind task (ref = task id), agent (agent_id), organ (organ_id), artifact (artifact_id) or uri (an external URI).';

-- ---------------------------------------------------------------------------
-- Edge fact -> fact: src derives from dst (fact__derives_from__fact).
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS fact_derives_from_fact (
  id          bigserial   PRIMARY KEY,
  src_fact_id uuid        NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
  dst_fact_id uuid        NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (src_fact_id, dst_fact_id),
  CHECK (src_fact_id <> dst_fact_id)
);
COMMENT ON TABLE fact_derives_from_fact IS 'Edge fact -> fact: the source fact was derived from the target fact (fact__derives_from__fact, 019).';
CREATE INDEX IF NOT EXISTS idx_fact_derives_from_fact_dst ON fact_derives_from_fact (dst_fact_id);

CREATE OR REPLACE TRIGGER trg_fact_derives_from_fact_map_nodes
  AFTER INSERT OR UPDATE OF src_fact_id, dst_fact_id ON fact_derives_from_fact
  FOR EACH ROW EXECUTE FUNCTION hgnn_edge_map_endpoints('fact', 'src_fact_id', 'fact', 'dst_fact_id');

-- ---------------------------------------------------------------------------
-- Resolution policies and conflicts.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS fact_predicate_policies (
  predicate  text        PRIMARY KEY CHECK (predicate <> ''),
  policy     text        NOT NULL CHECK (policy IN ('latest_wins', 'highest_confidence', 'keep_both')),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE fact_predicate_policies IS
  'What search returns when current facts of one subject/predicate disagree (019): latest_wins (latest valid_from), highest_confidence (then latest), keep_both (both, flagged). A predicate without a row is keep_both.';

CREATE TABLE IF NOT EXISTS fact_conflicts (
  id             bigserial   PRIMARY KEY,
  subject        text        NOT NULL,
  predicate      text        NOT NULL,
  fact_id        uuid        NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
  other_fact_id  uuid        NOT NULL REFERENCES facts (id) ON DELETE CASCADE,
  detected_at    timestamptz NOT NULL DEFAULT now(),
  status         text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  resolution     text        CHECK (resolution IN ('winner', 'keep_both', 'invalidated')),
  winner_fact_id uuid        REFERENCES facts (id) ON DELETE SET NULL,
  resolved_by    text,
  note           text,
  resolved_at    timestamptz,
  CHECK (fact_id <> other_fact_id),
  CHECK ((status = 'open') = (resolution IS NULL))
);
COMMENT ON TABLE fact_conflicts IS
  'Pairs of current facts with the same subject/predicate and different values (019): fact_id is the newer, other_fact_id the one it contradicts. Resolved by hand (winner: the other fact is invalidated; keep_both) or when one of them is invalidated.';
CREATE UNIQUE INDEX IF NOT EXISTS idx_fact_conflicts_pair
  ON fact_conflicts (least(fact_id, other_fact_id), greatest(fact_id, other_fact_id));
CREATE INDEX IF NOT EXISTS idx_fact_conflicts_fact ON fact_conflicts (fact_id);
CREATE INDEX IF NOT EXISTS idx_fact_conflicts_other ON fact_conflicts (other_fact_id);
CREATE INDEX IF NOT EXISTS idx_fact_conflicts_winner ON fact_conflicts (winner_fact_id) WHERE winner_fact_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_fact_conflicts_open ON fact_conflicts (id) WHERE status = 'open';

CREATE OR REPLACE FUNCTION facts_lock_group(p_subject text, p_predicate text)
RETURNS void
LANGUAGE sql
AS $$
  SELECT pg_advisory_xact_lock(19019, hashtext(p_subject || chr(31) || p_predicate));
$$;
COMMENT ON FUNCTION facts_lock_group(text, text) IS
  'Transaction-scoped advisory lock serialising writers of one subject/predicate (019).';

CREATE OR REPLACE FUNCTION facts_refresh_group(p_subject text, p_predicate text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  v_policy text;
  v_winner text;
BEGIN
  SELECT p.policy INTO v_policy FROM fact_predicate_policies p WHERE p.predicate = p_predicate;
  v_policy := coalesce(v_policy, 'keep_both');
  IF v_policy <> 'keep_both' THEN
    SELECT coalesce(f.object, f.text) INTO v_winner
      FROM facts f
     WHERE f.predicate = p_predicate AND f.subject = p_subject AND f.valid_to IS NULL
     ORDER BY CASE WHEN v_policy = 'highest_confidence' THEN f.confidence END DESC NULLS LAST,
              coalesce(f.valid_from, f.created_at) DESC, f.created_at DESC, f.id DESC
     LIMIT 1;
  END IF;
  -- Facts with the winner's value stay visible; with keep_both, or once invalidated, none
  -- is superseded.
  UPDATE facts f
     SET superseded = (v_policy <> 'keep_both' AND f.valid_to IS NULL AND coalesce(f.object, f.text) IS DISTINCT FROM v_winner)
   WHERE f.predicate = p_predicate AND f.subject = p_subject
     AND f.superseded IS DISTINCT FROM (v_policy <> 'keep_both' AND f.valid_to IS NULL AND coalesce(f.object, f.text) IS DISTINCT FROM v_winner);
END
$$;
COMMENT ON FUNCTION facts_refresh_group(text, text) IS
  'Re-applies the resolution policy of p_predicate to the current facts of (p_subject, p_predicate): sets facts.superseded (019). Call with facts_lock_group held.';

CREATE OR REPLACE FUNCTION facts_track_conflicts()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  -- The fact left its old subject/predicate: its open conflicts there are moot.
  IF TG_OP = 'UPDATE' AND OLD.subject IS NOT NULL
     AND (OLD.subject, OLD.predicate) IS DISTINCT FROM (NEW.subject, NEW.predicate) THEN
    PERFORM facts_lock_group(OLD.subject, OLD.predicate);
    UPDATE fact_conflicts c SET status = 'resolved', resolution = 'invalidated', resolved_at = now(),
           note = coalesce(c.note, 'subject or predicate changed')
     WHERE c.status = 'open' AND (c.fact_id = NEW.id OR c.other_fact_id = NEW.id);
    PERFORM facts_refresh_group(OLD.subject, OLD.predicate);
  END IF;
  IF NEW.subject IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM facts_lock_group(NEW.subject, NEW.predicate);
  IF NEW.valid_to IS NOT NULL THEN
    UPDATE fact_conflicts c SET status = 'resolved', resolution = 'invalidated', resolved_at = now(),
           note = coalesce(c.note, NEW.invalid_reason, 'invalidated')
     WHERE c.status = 'open' AND (c.fact_id = NEW.id OR c.other_fact_id = NEW.id);
  ELSE
    -- Against every visible current fact of the group with another value. After the lock,
    -- this statement's snapshot includes every writer that committed before us.
    INSERT INTO fact_conflicts (subject, predicate, fact_id, other_fact_id)
    SELECT NEW.subject, NEW.predicate, NEW.id, g.id
      FROM facts g
     WHERE g.predicate = NEW.predicate AND g.subject = NEW.subject AND g.valid_to IS NULL
       AND NOT g.superseded AND g.id <> NEW.id
       AND coalesce(g.object, g.text) IS DISTINCT FROM coalesce(NEW.object, NEW.text)
     ORDER BY g.id
    ON CONFLICT DO NOTHING;
  END IF;
  PERFORM facts_refresh_group(NEW.subject, NEW.predicate);
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION facts_track_conflicts() IS
  'Trigger function (AFTER INSERT/UPDATE on facts with a subject): records conflicts with the visible current facts of the same subject/predicate and re-applies the predicate policy (019).';

CREATE OR REPLACE TRIGGER trg_facts_conflicts_insert
  AFTER INSERT ON facts
  FOR EACH ROW
  WHEN (NEW.subject IS NOT NULL)
  EXECUTE FUNCTION facts_track_conflicts();

-- Updates of superseded alone (made by facts_refresh_group) are not in the column list.
CREATE OR REPLACE TRIGGER trg_facts_conflicts_update
  AFTER UPDATE OF subject, predicate, object, text, confidence, valid_from, valid_to ON facts
  FOR EACH ROW
  WHEN (NEW.subject IS NOT NULL OR OLD.subject IS NOT NULL)
  EXECUTE FUNCTION facts_track_conflicts();

-- ---------------------------------------------------------------------------
-- hgnn_edges with all 18 edge types: 010's 17 plus fact__derives_from__fact. (Re-running
-- 010 alone would narrow it back to 17; migrations run in order, so 019 comes after.)
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
  JOIN graph_node_map d ON d.node_type = 'memory_cell' AND d.ext_table = 'memory_cell' AND d.ext_uuid = e.memory_cell_id
UNION ALL
SELECT s.node_id, d.node_id, 'fact__derives_from__fact'::text
  FROM fact_derives_from_fact e
  JOIN graph_node_map s ON s.node_type = 'fact' AND s.ext_table = 'facts' AND s.ext_uuid = e.src_fact_id
  JOIN graph_node_map d ON d.node_type = 'fact' AND d.ext_table = 'facts' AND d.ext_uuid = e.dst_fact_id;

COMMENT ON VIEW hgnn_edges IS
  'All edges of the heterogeneous graph for DGL export: (src_node_id, dst_node_id, edge_type) with graph_node_map ids; edge_type = <src type>__<relation>__<dst type>, 18 types (019). Read-only: node ids are assigned when edges are written.';

COMMIT;
