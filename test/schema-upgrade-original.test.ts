/**
 * Upgrading a database built by the original SeedCore's 12 migrations, in place, loses no row.
 * The legacy schema below is written from the original's schema facts (the final effective
 * schema after its migration 012); it is populated the way the original's clients write
 * (dispatcher, task metadata repository, registry client, facts router, the embedder keyed by
 * Neo4j ids). Then our migrations run and every table's row count is compared.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import type { Db } from '../src/db/types.js';
import { SUPERSEDED_CHECKSUMS, loadMigrations } from '../src/migrate/files.js';
import { formatQuarantine } from '../src/migrate/quarantine.js';
import { migrate, migrationStatus } from '../src/migrate/runner.js';
import { formatVerifyReport, verifySchema } from '../src/migrate/verify.js';
import { MIGRATIONS_DIR } from '../src/paths.js';
import { BACKENDS, emptyDb, freshDb } from './helpers/db.js';
import { ROOT } from './helpers/procs.js';

const LEGACY_SCHEMA = `
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TYPE taskstatus AS ENUM ('created', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retry');
CREATE TYPE instancestatus AS ENUM ('starting', 'alive', 'draining', 'dead');

CREATE TABLE tasks (
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  status taskstatus NOT NULL DEFAULT 'created',
  attempts integer NOT NULL DEFAULT 0,
  locked_by text, locked_at timestamptz, run_after timestamptz,
  type text NOT NULL, description text, domain text,
  drift_score double precision NOT NULL DEFAULT 0.0,
  params jsonb NOT NULL DEFAULT '{}'::jsonb, result jsonb, error text,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  owner_id text, lease_expires_at timestamptz, last_heartbeat timestamptz
);
CREATE INDEX idx_tasks_status ON tasks (status);
CREATE INDEX idx_tasks_claim ON tasks (status, run_after, created_at) WHERE status IN ('queued', 'failed', 'retry');
CREATE FUNCTION update_tasks_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at = now(); RETURN NEW; END $$;
CREATE TRIGGER trigger_tasks_updated_at BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION update_tasks_updated_at();

CREATE TABLE graph_embeddings (
  node_id bigint NOT NULL PRIMARY KEY, label text, props jsonb, emb vector(128) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_graph_embeddings_emb ON graph_embeddings USING ivfflat (emb vector_l2_ops) WITH (lists = 100);

CREATE TABLE graph_node_map (
  node_id bigserial PRIMARY KEY, node_type text NOT NULL, ext_table text NOT NULL, ext_uuid uuid, ext_text_id text,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (node_type, ext_table, ext_uuid), UNIQUE (node_type, ext_table, ext_text_id)
);
CREATE FUNCTION ensure_task_node(p_task_id uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
  SELECT node_id INTO v FROM graph_node_map WHERE node_type = 'task' AND ext_table = 'tasks' AND ext_uuid = p_task_id;
  IF v IS NULL THEN
    INSERT INTO graph_node_map (node_type, ext_table, ext_uuid) VALUES ('task', 'tasks', p_task_id) RETURNING node_id INTO v;
  END IF;
  RETURN v;
END $$;
CREATE FUNCTION ensure_agent_node(p_agent_id text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
  SELECT node_id INTO v FROM graph_node_map WHERE node_type = 'agent' AND ext_table = 'agent_registry' AND ext_text_id = p_agent_id;
  IF v IS NULL THEN
    INSERT INTO graph_node_map (node_type, ext_table, ext_text_id) VALUES ('agent', 'agent_registry', p_agent_id) RETURNING node_id INTO v;
  END IF;
  RETURN v;
END $$;

CREATE TABLE agent_registry (agent_id text PRIMARY KEY, display_name text, props jsonb,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE organ_registry (organ_id text PRIMARY KEY,
  agent_id text REFERENCES agent_registry (agent_id) ON UPDATE CASCADE ON DELETE SET NULL,
  kind text, props jsonb, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE task_depends_on_task (id bigserial PRIMARY KEY,
  src_task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE, dst_task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (src_task_id, dst_task_id));
CREATE TABLE task_owned_by_agent (id bigserial PRIMARY KEY,
  task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE, agent_id text NOT NULL REFERENCES agent_registry (agent_id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (task_id, agent_id));
CREATE TABLE task_executed_by_organ (id bigserial PRIMARY KEY,
  task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE, organ_id text NOT NULL REFERENCES organ_registry (organ_id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (task_id, organ_id));

CREATE TABLE facts (id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY, text text NOT NULL,
  tags text[] DEFAULT '{}', meta_data jsonb DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX idx_facts_text ON facts USING gin (to_tsvector('english', text));
CREATE INDEX idx_facts_tags ON facts USING gin (tags);

CREATE TABLE cluster_metadata (id int NOT NULL DEFAULT 1 PRIMARY KEY CHECK (id = 1), current_epoch uuid NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE registry_instance (instance_id uuid NOT NULL PRIMARY KEY, logical_id text NOT NULL, cluster_epoch uuid NOT NULL,
  status instancestatus NOT NULL DEFAULT 'starting', actor_name text, serve_route text, node_id text, ip_address inet, pid int,
  started_at timestamptz NOT NULL DEFAULT now(), stopped_at timestamptz, last_heartbeat timestamptz NOT NULL DEFAULT now());
`;

/** The original's 009 inserts its three sample facts on every run (random ids): run twice. */
const SAMPLE_FACTS = `
INSERT INTO facts (text, tags, meta_data) VALUES
  ('SeedCore is a scalable task management system', ARRAY['system', 'description'], '{"source": "documentation", "priority": "high"}'),
  ('PostgreSQL provides excellent JSON support', ARRAY['database', 'json'], '{"source": "technical", "verified": true}'),
  ('FastAPI offers modern Python web development', ARRAY['framework', 'python'], '{"source": "development", "rating": 5}');
`;

function vec(seed: number): string {
  return `[${Array.from({ length: 128 }, (_, i) => ((seed * 31 + i) % 97) / 97).join(',')}]`;
}

/** Rows the way the original SeedCore's clients write them. Returns the number of embeddings keyed by non-map (Neo4j) ids. */
async function populate(db: Db): Promise<number> {
  await db.exec(SAMPLE_FACTS + SAMPLE_FACTS);
  // Queue dispatcher: claimed, completed, retried, failed tasks (attempts counted at the claim).
  await db.exec(`
    INSERT INTO tasks (type, status, params, description) SELECT 'general_query', 'queued', jsonb_build_object('q', g), 'q' || g FROM generate_series(1, 20) g;
    WITH c AS (SELECT id FROM tasks WHERE status IN ('queued', 'retry') AND (run_after IS NULL OR run_after <= now())
                AND type NOT IN ('graph_embed', 'graph_rag_query') ORDER BY created_at LIMIT 8 FOR UPDATE SKIP LOCKED)
    UPDATE tasks t SET status = 'running', locked_by = 'seedcore_dispatcher_0', owner_id = 'seedcore_dispatcher_0', locked_at = now(),
           lease_expires_at = now() + interval '600 seconds', last_heartbeat = now(), attempts = t.attempts + 1 FROM c WHERE t.id = c.id;
    UPDATE tasks SET status = 'completed', result = '{"success": true}', error = NULL, updated_at = now()
     WHERE id IN (SELECT id FROM tasks WHERE status = 'running' ORDER BY id LIMIT 5);
    UPDATE tasks SET status = 'retry', error = 'dispatcher error: boom', run_after = now() + interval '10 seconds', updated_at = now()
     WHERE id IN (SELECT id FROM tasks WHERE status = 'running' ORDER BY id LIMIT 2);
    UPDATE tasks SET status = 'failed', error = 'Max attempts (3) exceeded: boom', updated_at = now()
     WHERE id IN (SELECT id FROM tasks WHERE status = 'running' ORDER BY id LIMIT 1);
  `);
  // Task metadata repository: a created task with agent, organ, dependency and nodes.
  await db.exec(`
    INSERT INTO tasks (id, type, status, description) VALUES
      ('11111111-1111-4111-8111-111111111111', 'hgnn_root', 'created', 'root'),
      ('22222222-2222-4222-8222-222222222222', 'hgnn_sub', 'created', 'sub');
    INSERT INTO agent_registry (agent_id) VALUES ('agent_1') ON CONFLICT DO NOTHING;
    INSERT INTO task_owned_by_agent (task_id, agent_id) VALUES ('11111111-1111-4111-8111-111111111111', 'agent_1') ON CONFLICT DO NOTHING;
    SELECT ensure_agent_node('agent_1');
    INSERT INTO organ_registry (organ_id, agent_id) VALUES ('organ_1', 'agent_1')
      ON CONFLICT (organ_id) DO UPDATE SET agent_id = COALESCE(EXCLUDED.agent_id, organ_registry.agent_id);
    INSERT INTO task_executed_by_organ (task_id, organ_id) VALUES ('11111111-1111-4111-8111-111111111111', 'organ_1') ON CONFLICT DO NOTHING;
    INSERT INTO task_depends_on_task (src_task_id, dst_task_id)
      VALUES ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222') ON CONFLICT DO NOTHING;
    SELECT ensure_task_node('11111111-1111-4111-8111-111111111111'), ensure_task_node('22222222-2222-4222-8222-222222222222');
  `);
  // Registry client: an epoch, an organ instance that beat and one that closed.
  await db.exec(`
    INSERT INTO cluster_metadata (id, current_epoch) VALUES (1, '33333333-3333-4333-8333-333333333333');
    INSERT INTO registry_instance (instance_id, logical_id, cluster_epoch, status, actor_name, node_id, ip_address, pid)
    VALUES ('44444444-4444-4444-8444-444444444444', 'organ_1', '33333333-3333-4333-8333-333333333333', 'alive', 'organ_1', 'host', '10.0.0.1', 100),
           ('55555555-5555-4555-8555-555555555555', 'organ_1', '33333333-3333-4333-8333-333333333333', 'dead', 'organ_1', 'host', '10.0.0.1', 99);
  `);
  // Embedder: vectors for the map's nodes and for Neo4j internal ids (not in graph_node_map).
  const mapped = await db.query<{ node_id: string }>('SELECT node_id::text AS node_id FROM graph_node_map ORDER BY node_id');
  const neo4j = [900_001, 900_002, 900_003, 900_017, 900_042];
  for (const [i, id] of [...mapped.rows.map((r) => Number(r.node_id)), ...neo4j].entries()) {
    await db.query("INSERT INTO graph_embeddings (node_id, emb, label, props) VALUES ($1, $2::vector, 'Task', '{}'::jsonb)", [id, vec(i)]);
  }
  return neo4j.length;
}

const TABLES = [
  'tasks',
  'graph_embeddings',
  'graph_node_map',
  'agent_registry',
  'organ_registry',
  'task_depends_on_task',
  'task_owned_by_agent',
  'task_executed_by_organ',
  'facts',
  'cluster_metadata',
  'registry_instance',
];

async function counts(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]?.n ?? 0;
  return out;
}

for (const kind of BACKENDS) {
  describe(`upgrading an original SeedCore database in place on ${kind}`, () => {
    it('keeps every row: embeddings keyed by non-map ids move to the quarantine, sample facts are not added twice', async () => {
      const t = await emptyDb(kind);
      try {
        await t.db.exec(LEGACY_SCHEMA);
        const foreign = await populate(t.db);
        const before = await counts(t.db);
        const nodesBefore = await t.db.query<{ node_id: string }>('SELECT node_id::text AS node_id FROM graph_node_map ORDER BY node_id');
        const embBefore = await t.db.query<{ node_id: string; emb: string }>(
          'SELECT node_id::text AS node_id, emb::text AS emb FROM graph_embeddings ORDER BY node_id',
        );
        await migrate(t.db);
        const after = await counts(t.db);
        const quarantined = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM graph_embeddings_quarantine')).rows[0]?.n;
        assert.equal(quarantined, foreign, 'the Neo4j-keyed embeddings are in the quarantine');
        // graph_node_map may gain nodes (our migrations map entities the original left unmapped).
        assert.deepEqual(
          { ...after, graph_embeddings: (after.graph_embeddings ?? 0) + (quarantined ?? 0), graph_node_map: before.graph_node_map },
          before,
          'every legacy table has the same rows (embeddings: table + quarantine)',
        );
        const nodesAfter = new Set((await t.db.query<{ node_id: string }>('SELECT node_id::text AS node_id FROM graph_node_map')).rows.map((r) => r.node_id));
        assert.ok(
          nodesBefore.rows.every((r) => nodesAfter.has(r.node_id)),
          'every legacy graph node is kept',
        );
        // The same vectors, not just the same counts.
        const embAfter = await t.db.query<{ node_id: string; emb: string }>(
          'SELECT node_id::text AS node_id, emb::text AS emb FROM graph_embeddings UNION ALL SELECT node_id::text, emb::text FROM graph_embeddings_quarantine ORDER BY node_id',
        );
        assert.deepEqual(embAfter.rows, embBefore.rows);
        const facts = await t.db.query<{ text: string; n: number }>('SELECT text, count(*)::int AS n FROM facts GROUP BY text ORDER BY text');
        assert.ok(
          facts.rows.every((r) => r.n === 2),
          `sample texts kept twice, not added a third time: ${JSON.stringify(facts.rows)}`,
        );
        const report = await verifySchema(t.db);
        assert.equal(report.ok, true, formatVerifyReport(report));
        assert.equal(report.quarantine?.rows, foreign);
        assert.match(formatVerifyReport(report), /5 embedding\(s\) kept in graph_embeddings_quarantine/);
        assert.match(formatVerifyReport(report), /DROP TABLE graph_embeddings_quarantine/);
        // A second run changes nothing and still reports the quarantine.
        const again = await migrate(t.db);
        assert.deepEqual(again.applied, []);
        assert.equal(again.quarantine?.rows, foreign);
        assert.deepEqual(await counts(t.db), after);
        // The upgraded database works: the protocol claims the queued legacy tasks.
        const claimed = await t.db.query("SELECT id FROM claim_tasks('w', 100, 30, ARRAY['general_query'])");
        assert.equal(claimed.rowCount, 12, 'the 12 never-claimed queued tasks (the 2 retries are not due yet)');
      } finally {
        await t.cleanup();
      }
    });

    it('a fresh database has no quarantine and reports none; the sample facts are inserted once', async () => {
      const t = await freshDb(kind);
      try {
        const r = await migrate(t.db);
        assert.deepEqual(r.applied, []);
        assert.equal(r.quarantine, null);
        assert.equal(formatQuarantine(r.quarantine), null);
        assert.equal((await t.db.query("SELECT to_regclass('graph_embeddings_quarantine') AS t")).rows[0]?.t ?? null, null);
        assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts')).rows[0]?.n, 3);
      } finally {
        await t.cleanup();
      }
    });

    it('a database migrated with the superseded 007 and 009 still migrates, and status shows no change', async () => {
      // Two snapshots of the migrations taken at once: the current files, and the same with the
      // superseded 007 and 009.
      const dir = mkdtempSync(join(tmpdir(), 'seedcore-superseded-'));
      const cur = join(dir, 'current');
      const old = join(dir, 'old');
      const t = await emptyDb(kind);
      try {
        cpSync(MIGRATIONS_DIR, cur, { recursive: true });
        cpSync(cur, old, { recursive: true });
        cpSync(resolve(ROOT, 'test/fixtures/superseded-migrations'), old, { recursive: true });
        const oldFiles = loadMigrations(old);
        for (const v of [7, 9]) {
          const f = oldFiles.find((m) => m.version === v);
          assert.ok(f && SUPERSEDED_CHECKSUMS[v]?.includes(f.checksum), `fixture ${v} has the listed superseded checksum`);
          assert.notEqual(f.checksum, loadMigrations(cur).find((m) => m.version === v)?.checksum);
        }
        await migrate(t.db, { dir: old });
        const status = await migrationStatus(t.db, cur);
        assert.deepEqual(
          status.filter((s) => s.state !== 'applied').map((s) => `${s.name}: ${s.state}`),
          [],
        );
        const again = await migrate(t.db, { dir: cur });
        assert.deepEqual(again.applied, []);
        // Positive control: a checksum that is not listed is still refused.
        await t.db.query("UPDATE seedcore_migrations SET checksum = repeat('0', 64) WHERE version = 7");
        assert.equal((await migrationStatus(t.db, cur)).find((s) => s.version === 7)?.state, 'changed');
        await assert.rejects(migrate(t.db, { dir: cur }), { code: 'SEEDCORE_MIGRATION_CHANGED' });
      } finally {
        await t.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
