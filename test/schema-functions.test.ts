import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

/** One row per edge type, creating the endpoint entities it needs. */
async function insertOneEdgeOfEachType(t: TestDb): Promise<void> {
  const [a, b] = [randomUUID(), randomUUID()];
  await t.db.exec(`
    INSERT INTO tasks (id, type, status) VALUES ('${a}', 'x', 'queued'), ('${b}', 'x', 'queued');
    INSERT INTO agent_registry (agent_id) VALUES ('ag1'), ('ag2');
    INSERT INTO organ_registry (organ_id, agent_id) VALUES ('or1', 'ag1');
    INSERT INTO artifact (artifact_id, uri) VALUES ('00000000-0000-4000-8000-0000000000a1', 's3://x');
    INSERT INTO capability (capability_id, name) VALUES ('00000000-0000-4000-8000-0000000000c1', 'summarize');
    INSERT INTO memory_cell (memory_cell_id, scope, mkey) VALUES ('00000000-0000-4000-8000-0000000000d1', 'global', 'k');
    INSERT INTO model (model_name) VALUES ('m1'); INSERT INTO policy (policy_name) VALUES ('p1');
    INSERT INTO service (service_name) VALUES ('s1'); INSERT INTO skill (skill_name) VALUES ('sk1');
    INSERT INTO facts (id, text) VALUES ('00000000-0000-4000-8000-0000000000f1', 'a fact'), ('00000000-0000-4000-8000-0000000000f2', 'a fact derived from it');
    INSERT INTO task_depends_on_task (src_task_id, dst_task_id) VALUES ('${a}', '${b}');
    INSERT INTO task_produces_artifact (task_id, artifact_id) VALUES ('${a}', '00000000-0000-4000-8000-0000000000a1');
    INSERT INTO task_uses_capability (task_id, capability_id) VALUES ('${a}', '00000000-0000-4000-8000-0000000000c1');
    INSERT INTO task_reads_memory (task_id, memory_cell_id) VALUES ('${a}', '00000000-0000-4000-8000-0000000000d1');
    INSERT INTO task_writes_memory (task_id, memory_cell_id) VALUES ('${a}', '00000000-0000-4000-8000-0000000000d1');
    INSERT INTO task_executed_by_organ (task_id, organ_id) VALUES ('${a}', 'or1');
    INSERT INTO task_owned_by_agent (task_id, agent_id) VALUES ('${a}', 'ag1');
    INSERT INTO agent_member_of_organ (agent_id, organ_id) VALUES ('ag1', 'or1');
    INSERT INTO agent_collab_agent (src_agent, dst_agent) VALUES ('ag1', 'ag2');
    INSERT INTO organ_provides_skill (organ_id, skill_name) VALUES ('or1', 'sk1');
    INSERT INTO organ_uses_service (organ_id, service_name) VALUES ('or1', 's1');
    INSERT INTO agent_uses_model (agent_id, model_name) VALUES ('ag1', 'm1');
    INSERT INTO organ_governed_by_policy (organ_id, policy_name) VALUES ('or1', 'p1');
    INSERT INTO task_reads_fact (task_id, fact_id) VALUES ('${a}', '00000000-0000-4000-8000-0000000000f1');
    INSERT INTO task_produces_fact (task_id, fact_id) VALUES ('${a}', '00000000-0000-4000-8000-0000000000f1');
    INSERT INTO organ_provides_capability (organ_id, capability_id) VALUES ('or1', '00000000-0000-4000-8000-0000000000c1');
    INSERT INTO agent_owns_memory_cell (agent_id, memory_cell_id) VALUES ('ag1', '00000000-0000-4000-8000-0000000000d1');
    INSERT INTO fact_derives_from_fact (src_fact_id, dst_fact_id) VALUES ('00000000-0000-4000-8000-0000000000f2', '00000000-0000-4000-8000-0000000000f1');`);
}

for (const kind of BACKENDS) {
  describe(`schema functions on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind, { poolSize: 20 });
    });
    after(async () => t.cleanup());

    it('ensure_*_node: 50 concurrent calls for one new key return one id, no error', async () => {
      const taskId = randomUUID();
      await t.db.query("INSERT INTO tasks (id, type) VALUES ($1, 'x')", [taskId]);
      await t.db.query("INSERT INTO artifact (artifact_id, uri) VALUES ($1, 'file://a')", [taskId]);
      const calls: Promise<{ rows: { id: number }[] }>[] = [];
      for (let i = 0; i < 50; i++) {
        calls.push(t.db.query<{ id: number }>('SELECT ensure_agent_node($1) AS id', ['racer']));
        calls.push(t.db.query<{ id: number }>('SELECT ensure_task_node($1) AS id', [taskId]));
        calls.push(t.db.query<{ id: number }>('SELECT ensure_artifact_node($1) AS id', [taskId]));
        calls.push(t.db.query<{ id: number }>('SELECT ensure_skill_node($1) AS id', ['race-skill']));
      }
      const results = await Promise.all(calls);
      const ids = (k: number) => new Set(results.filter((_, i) => i % 4 === k).map((r) => r.rows[0]?.id));
      for (let k = 0; k < 4; k++) assert.equal(ids(k).size, 1, `helper ${k} returned one id`);
      const agent = await t.db.query("SELECT 1 FROM agent_registry WHERE agent_id = 'racer'");
      assert.equal(agent.rowCount, 1, 'text-keyed helpers create the entity row');
    });

    it('uuid-keyed helpers refuse missing entities and NULLs with clear errors', async () => {
      await assert.rejects(
        t.db.query('SELECT ensure_task_node($1)', [randomUUID()]),
        (e: Error & { code?: string }) => e.code === 'SEEDCORE_NOT_FOUND' && /does not exist/.test(e.message),
      );
      await assert.rejects(t.db.query('SELECT ensure_capability_node(NULL)'), { code: 'SEEDCORE_INVALID_INPUT' });
      await assert.rejects(t.db.query("SELECT ensure_task_node('not-a-uuid')"), { code: 'SEEDCORE_INVALID_INPUT' });
    });

    it('hgnn_edges has all 18 edge types, writes nothing when read, and works READ ONLY', async () => {
      await insertOneEdgeOfEachType(t);
      const mapBefore = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM graph_node_map')).rows[0]?.n;
      const types = await t.db.transaction(async (tx) => {
        await tx.query('SET TRANSACTION READ ONLY');
        return (await tx.query<{ edge_type: string }>('SELECT DISTINCT edge_type FROM hgnn_edges ORDER BY 1')).rows.map((r) => r.edge_type);
      });
      assert.equal(types.length, 18);
      assert.ok(types.includes('organ__provides__capability') && types.includes('agent__owns__memory_cell') && types.includes('fact__derives_from__fact'));
      const mapAfter = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM graph_node_map')).rows[0]?.n;
      assert.equal(mapAfter, mapBefore, 'reading the view assigned no node ids');
      const dangling = await t.db.query('SELECT 1 FROM hgnn_edges e LEFT JOIN graph_node_map m ON m.node_id = e.src_node_id WHERE m.node_id IS NULL');
      assert.equal(dangling.rowCount, 0);
    });

    it('graph_embeddings.node_id must be a graph_node_map id, and goes with its node', async () => {
      const vec = `[${Array.from({ length: 128 }, () => 0.5).join(',')}]`;
      await assert.rejects(t.db.query('INSERT INTO graph_embeddings (node_id, emb) VALUES (987654321, $1::vector)', [vec]), { code: 'SEEDCORE_NOT_FOUND' });
      const node = (await t.db.query<{ id: number }>("SELECT ensure_model_node('emb-model') AS id")).rows[0]?.id;
      await t.db.query('INSERT INTO graph_embeddings (node_id, emb) VALUES ($1, $2::vector)', [node, vec]);
      await t.db.query("DELETE FROM model WHERE model_name = 'emb-model'");
      assert.equal((await t.db.query('SELECT 1 FROM graph_embeddings WHERE node_id = $1', [node])).rowCount, 0);
    });

    it('graph_tasks maps every status to its emoji', async () => {
      const statuses = ['completed', 'running', 'queued', 'failed', 'retry', 'created', 'cancelled'];
      for (const s of statuses) await t.db.query("INSERT INTO tasks (type, status, description) VALUES ('graph_embed', $1::taskstatus, 'emoji-test')", [s]);
      const rows = await t.db.query<{ status: string; status_emoji: string }>(
        "SELECT status::text AS status, status_emoji FROM graph_tasks WHERE params = '{}'::jsonb",
      );
      const map = Object.fromEntries(rows.rows.map((r) => [r.status, r.status_emoji]));
      assert.deepEqual(map, { completed: '✅', running: '🔄', queued: '⏳', failed: '❌', retry: '🔄', created: '📝', cancelled: '❌' });
      await assert.rejects(t.db.query("INSERT INTO tasks (type, status) VALUES ('x', 'QUEUED')"), { code: 'SEEDCORE_INVALID_INPUT' });
    });

    it('create_graph_*_task accept integer[] and bigint[], validate arguments, bind agent and organ', async () => {
      const id = (await t.db.query<{ id: string }>('SELECT create_graph_embed_task(ARRAY[1,2]::integer[], 3) AS id')).rows[0]?.id;
      const row = (
        await t.db.query<{ params: unknown; description: string; status: string }>(
          'SELECT params, description, status::text AS status FROM tasks WHERE id = $1',
          [id],
        )
      ).rows[0];
      assert.deepEqual(row?.params, { start_ids: [1, 2], k: 3 });
      assert.equal(row?.status, 'queued');
      assert.match(row?.description ?? '', /3-hop/);
      const rag = (await t.db.query<{ id: string }>("SELECT create_graph_rag_task_v2(ARRAY[5]::bigint[], 2, 7, NULL, 'agent-v2', 'organ-v2') AS id")).rows[0]
        ?.id;
      const edges = await t.db.query<{ edge_type: string }>(
        'SELECT e.edge_type FROM hgnn_edges e JOIN graph_node_map m ON m.node_id = e.src_node_id WHERE m.ext_uuid = $1 ORDER BY 1',
        [rag],
      );
      assert.deepEqual(
        edges.rows.map((r) => r.edge_type),
        ['task__executed_by__organ', 'task__owned_by__agent'],
      );
      await assert.rejects(
        t.db.query('SELECT create_graph_rag_task(ARRAY[1]::bigint[], 2, 0)'),
        (e: Error & { code?: string }) => e.code === 'SEEDCORE_INVALID_INPUT' && /top_k/.test(e.message),
      );
    });

    it('cleanup_stale_running_tasks judges by lease and heartbeat, releases columns, fails exhausted tasks', async () => {
      const ins = async (attempts: number, lease: string, heartbeat: string) =>
        (
          await t.db.query<{ id: string }>(
            `INSERT INTO tasks (type, status, attempts, owner_id, locked_by, locked_at, lease_expires_at, last_heartbeat, updated_at)
             VALUES ('cleanup', 'running', $1, 'w', 'w', now() - interval '1 hour', now() + $2::interval, now() + $3::interval, now() - interval '2 hours') RETURNING id`,
            [attempts, lease, heartbeat],
          )
        ).rows[0]?.id as string;
      const expired = await ins(1, '-1 minute', '-1 minute');
      const exhausted = await ins(3, '-1 minute', '-1 minute');
      const silent = await ins(1, '+10 minutes', '-20 minutes');
      const healthy = await ins(1, '+10 minutes', '-5 seconds');
      const n = (await t.db.query<{ n: number }>('SELECT cleanup_stale_running_tasks(15, 3) AS n')).rows[0]?.n;
      assert.equal(n, 3);
      const rows = await t.db.query<{
        id: string;
        status: string;
        owner_id: string | null;
        locked_by: string | null;
        lease_expires_at: Date | null;
        attempts: number;
        error: string | null;
      }>('SELECT id, status::text AS status, owner_id, locked_by, lease_expires_at, attempts, error FROM tasks WHERE id = ANY($1::uuid[])', [
        [expired, exhausted, silent, healthy],
      ]);
      const by = new Map(rows.rows.map((r) => [r.id, r]));
      assert.equal(by.get(expired)?.status, 'retry');
      assert.equal(by.get(expired)?.attempts, 1, 'recovery does not count the attempt twice');
      assert.equal(by.get(silent)?.status, 'retry', 'an old heartbeat is stale even with a lease left');
      assert.equal(by.get(exhausted)?.status, 'failed');
      assert.equal(by.get(healthy)?.status, 'running', 'old updated_at alone is not staleness');
      for (const id of [expired, exhausted, silent]) {
        const r = by.get(id);
        assert.equal(r?.owner_id, null);
        assert.equal(r?.locked_by, null);
        assert.equal(r?.lease_expires_at, null);
        assert.ok(r?.error && !r.error.startsWith(' |'), `error text is clean: ${r?.error}`);
      }
      await assert.rejects(t.db.query('SELECT cleanup_stale_running_tasks(15, 0)'), { code: 'SEEDCORE_INVALID_INPUT' });
      await assert.rejects(t.db.query('SELECT cleanup_stale_running_tasks(NULL, 3)'), { code: 'SEEDCORE_INVALID_INPUT' });
    });

    it('registry: transitions enforced, dead is final, beat fences, the epoch lock never leaks', async () => {
      await assert.rejects(t.db.query('SELECT set_current_epoch(NULL)'), { code: 'SEEDCORE_INVALID_INPUT' });
      const epoch = randomUUID();
      await t.db.query('SELECT set_current_epoch($1)', [epoch]); // would block or fail if the lock had leaked
      const id = randomUUID();
      const reg = () => t.db.query("SELECT register_instance($1, 'svc', $2, 'actor', '/r', 'node', '127.0.0.1'::inet, 123)", [id, epoch]);
      await reg();
      await reg(); // idempotent
      await t.db.query("SELECT set_instance_status($1, 'alive')", [id]);
      assert.equal((await t.db.query('SELECT 1 FROM active_instances WHERE instance_id = $1', [id])).rowCount, 1);
      assert.equal((await t.db.query<{ ok: boolean }>('SELECT beat($1) AS ok', [id])).rows[0]?.ok, true);
      await assert.rejects(t.db.query("SELECT set_instance_status($1, 'starting')", [id]), { code: 'SEEDCORE_CONFLICT' });
      await t.db.query("SELECT set_instance_status($1, 'dead')", [id]);
      await assert.rejects(t.db.query("SELECT set_instance_status($1, 'alive')", [id]), { code: 'SEEDCORE_CONFLICT' });
      await assert.rejects(reg(), { code: 'SEEDCORE_CONFLICT' });
      assert.equal((await t.db.query<{ ok: boolean }>('SELECT beat($1) AS ok', [id])).rows[0]?.ok, false, 'a dead instance cannot beat');
      await assert.rejects(t.db.query("SELECT set_instance_status($1, 'alive')", [randomUUID()]), { code: 'SEEDCORE_NOT_FOUND' });
      await assert.rejects(t.db.query("SELECT set_instance_status($1, 'zombie')", [id]), { code: 'SEEDCORE_INVALID_INPUT' });

      // Stale and old-epoch expiry.
      const stale = randomUUID();
      const old = randomUUID();
      await t.db.query("SELECT register_instance($1, 'svc', $2, NULL, NULL, NULL, NULL, NULL)", [stale, epoch]);
      await t.db.query("UPDATE registry_instance SET last_heartbeat = now() - interval '999 seconds' WHERE instance_id = $1", [stale]);
      await t.db.query("SELECT register_instance($1, 'svc', $2, NULL, NULL, NULL, NULL, NULL)", [old, randomUUID()]);
      assert.equal((await t.db.query<{ n: number }>('SELECT expire_stale_instances(1) AS n')).rows[0]?.n, 1);
      assert.equal((await t.db.query<{ n: number }>('SELECT expire_old_epoch_instances() AS n')).rows[0]?.n, 1);
      const dead = await t.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM registry_instance WHERE instance_id = ANY($1::uuid[]) AND status = 'dead' AND stopped_at IS NOT NULL",
        [[stale, old]],
      );
      assert.equal(dead.rows[0]?.n, 2);
    });
  });
}
