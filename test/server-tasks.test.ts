import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isEmptyDatabase, loadDemoData } from '../src/demo/load.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

async function taskCount(s: TestServer): Promise<number> {
  const { rows } = await s.core.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks');
  return rows[0]?.n ?? -1;
}

for (const kind of BACKENDS) {
  describe(`task routes (${kind})`, () => {
    let s: TestServer;
    before(async () => {
      s = await testServer(kind);
    });
    after(async () => s.close());

    it('creates a task and lists it with filters and keyset pagination', async () => {
      const r = await s.app.inject({ method: 'POST', url: '/api/tasks', payload: { type: 'echo', params: { n: 1 }, description: 'first' } });
      assert.equal(r.statusCode, 201);
      const task = r.json();
      assert.equal(task.status, 'queued');
      assert.deepEqual(task.params, { n: 1 });
      assert.match(task.created_at, /^\d{4}-\d\d-\d\dT/);

      const batch = await s.app.inject({ method: 'POST', url: '/api/tasks', payload: [1, 2, 3, 4].map((n) => ({ type: 'page_probe', params: { n } })) });
      assert.equal(batch.statusCode, 201);
      assert.equal(batch.json().items.length, 4);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: Array<{ id: string; type: string }>; nextCursor: string | null } = (
          await s.app.inject(`/api/tasks?type=page_probe&limit=3${cursor ? `&cursor=${cursor}` : ''}`)
        ).json();
        assert.ok(page.items.every((t) => t.type === 'page_probe'));
        seen.push(...page.items.map((t) => t.id));
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(seen.length, 4);
      assert.equal(new Set(seen).size, 4);
      assert.deepEqual(
        seen.slice().sort(),
        batch
          .json()
          .items.map((t: { id: string }) => t.id)
          .sort(),
      );
      // One statement gives the batch one created_at, so the keyset order falls back to id.
      assert.deepEqual(seen, seen.slice().sort().reverse(), 'newest first, then id descending');

      const byStatus = (await s.app.inject('/api/tasks?status=queued&status=running&limit=100')).json();
      assert.equal(byStatus.items.length, 5);
      assert.equal((await s.app.inject('/api/tasks?status=completed')).json().items.length, 0);
    });

    it('gets a task by id or unique prefix; 404, 400 and 409 otherwise', async () => {
      const task = (await s.app.inject({ method: 'POST', url: '/api/tasks', payload: { type: 'echo' } })).json();
      assert.equal((await s.app.inject(`/api/tasks/${task.id}`)).json().id, task.id);
      assert.equal((await s.app.inject(`/api/tasks/${task.id.slice(0, 8)}`)).json().id, task.id);
      const missing = await s.app.inject('/api/tasks/00000000-0000-4000-8000-000000000000');
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().error.code, 'SEEDCORE_NOT_FOUND');
      assert.equal((await s.app.inject('/api/tasks/zz')).statusCode, 400);
      await s.core.db.query(`INSERT INTO tasks (id, type) VALUES ('feedbeef-0000-4000-8000-000000000001', 'x'), ('feedbeef-0000-4000-8000-000000000002', 'x')`);
      const amb = await s.app.inject('/api/tasks/feedbeef');
      assert.equal(amb.statusCode, 409);
      assert.equal(amb.json().error.code, 'SEEDCORE_AMBIGUOUS_ID');
    });

    it('rejects bad submissions with 4xx and writes nothing', async () => {
      const before = await taskCount(s);
      const bad: Array<[unknown, number]> = [
        [{ type: 'echo', colour: 'red' }, 400],
        [{ type: 42 }, 400],
        [{ params: {} }, 400],
        [{ type: 'echo', params: [1, 2] }, 400],
        [{ type: 'echo', drift_score: 'high' }, 400],
        [{ type: 'echo', run_after: 'not a date' }, 400],
        [[{ type: 'ok' }, { type: 'echo', bogus: true }], 400],
        [{ type: 'echo', dependsOn: ['00000000-0000-4000-8000-0000000000ff'] }, 404],
      ];
      for (const [payload, status] of bad) {
        const r = await s.app.inject({ method: 'POST', url: '/api/tasks', payload: payload as object });
        assert.equal(r.statusCode, status, JSON.stringify(payload));
        assert.equal(typeof r.json().error.code, 'string');
      }
      assert.equal(await taskCount(s), before);
    });

    it('cancels and retries, with 409 for transitions that do not apply', async () => {
      const task = (await s.app.inject({ method: 'POST', url: '/api/tasks', payload: { type: 'echo' } })).json();
      const retryQueued = await s.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/retry` });
      assert.equal(retryQueued.statusCode, 409);
      const cancelled = await s.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/cancel`, payload: { reason: 'test says so' } });
      assert.equal(cancelled.statusCode, 200);
      assert.equal(cancelled.json().status, 'cancelled');
      assert.match(cancelled.json().error, /test says so/);
      const again = await s.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/cancel` });
      assert.equal(again.statusCode, 409);
      assert.equal(again.json().error.code, 'SEEDCORE_CONFLICT');
      const retried = await s.app.inject({ method: 'POST', url: `/api/tasks/${task.id.slice(0, 10)}/retry` });
      assert.equal(retried.statusCode, 200);
      assert.equal(retried.json().status, 'queued');
      assert.equal(retried.json().attempts, 0);
      assert.equal((await s.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/cancel`, payload: { reason: 1 } })).statusCode, 400);
    });
  });

  describe(`graph routes and demo data (${kind})`, () => {
    let s: TestServer;
    before(async () => {
      s = await testServer(kind);
    });
    after(async () => s.close());

    it('loads demo data only into an empty database', async () => {
      assert.equal(await isEmptyDatabase(s.core.db), true);
      const demo = await loadDemoData(s.core.db);
      assert.equal(demo.agents, 3);
      assert.ok(demo.tasks.length >= 4);
      assert.equal(await isEmptyDatabase(s.core.db), false);
      const graphTasks = (await s.app.inject('/api/graph-tasks'))
        .json()
        .items.map((t: { type: string }) => t.type)
        .sort();
      assert.deepEqual(graphTasks, ['graph_embed', 'graph_rag_query']);
    });

    it('reports graph counts and a node neighbourhood', async () => {
      const stats = (await s.app.inject('/api/graph/stats')).json();
      assert.equal(stats.nodes.agent, 3);
      assert.equal(stats.nodes.organ, 3);
      assert.equal(stats.edges.agent__member_of__organ, 3);
      const { rows } = await s.core.db.query<{ node_id: string }>(
        `SELECT node_id::text FROM graph_node_map WHERE node_type = 'agent' AND ext_text_id = 'planner'`,
      );
      const planner = rows[0]?.node_id as string;
      const nb = (await s.app.inject(`/api/graph/neighbors/${planner}`)).json();
      assert.equal(nb.node.ext_id, 'planner');
      const names = nb.neighbors.map((n: { ext_id: string }) => n.ext_id);
      for (const want of ['cognitive_organ_1', 'researcher', 'gpt-4o-mini']) assert.ok(names.includes(want), want);
      assert.ok(nb.neighbors.every((n: { hop: number }) => n.hop === 1));
      const organsOnly = (await s.app.inject(`/api/graph/neighbors/${planner}?edgeType=agent__member_of__organ`)).json();
      assert.deepEqual(
        organsOnly.neighbors.map((n: { node_type: string }) => n.node_type),
        ['organ'],
      );
      assert.equal((await s.app.inject('/api/graph/neighbors/99999999')).statusCode, 404);
      assert.equal((await s.app.inject('/api/graph/neighbors/abc')).statusCode, 400);
      assert.equal((await s.app.inject(`/api/graph/neighbors/${planner}?hops=9`)).statusCode, 400);
    });

    it('answers kNN by vector and by node id, and rejects bad queries', async () => {
      const { rows } = await s.core.db.query<{ node_id: string }>(`SELECT node_id::text FROM graph_node_map ORDER BY node_id LIMIT 4`);
      const ids = rows.map((r) => Number(r.node_id));
      const vec = (x: number) => Array.from({ length: 128 }, (_, i) => (i === 0 ? x : 0));
      await s.core.embeddings.upsert(ids.map((id, i) => ({ nodeId: id, vector: vec(i) })));
      const r = await s.app.inject({ method: 'POST', url: '/api/embeddings/knn', payload: { vector: vec(2.9), k: 2 } });
      assert.equal(r.statusCode, 200);
      assert.deepEqual(
        r.json().items.map((x: { node_id: number }) => x.node_id),
        [ids[3], ids[2]],
      );
      assert.ok(r.json().items[0].distance < r.json().items[1].distance);
      const byNode = (await s.app.inject({ method: 'POST', url: '/api/embeddings/knn', payload: { nodeId: ids[0], k: 1 } })).json();
      assert.equal(byNode.items[0].node_id, ids[1]);
      for (const payload of [{ vector: [1, 2, 3] }, { vector: vec(1), nodeId: ids[0] }, {}, { vector: vec(1), k: 0 }, { vector: vec(1), extra: 1 }]) {
        const bad = await s.app.inject({ method: 'POST', url: '/api/embeddings/knn', payload });
        assert.equal(bad.statusCode, 400, JSON.stringify(payload).slice(0, 60));
        assert.equal(bad.json().error.code, 'SEEDCORE_INVALID_INPUT');
      }
    });
  });
}
