import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addFact, createTaskFacts, deleteFact } from '../src/facts/index.js';
import { isSeedCoreError } from '../src/errors.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

async function newTask(t: TestDb): Promise<string> {
  const r = await t.db.query<{ id: string }>("INSERT INTO tasks (type, status) VALUES ('facts_test', 'running') RETURNING id");
  return (r.rows[0] as { id: string }).id;
}

async function edgesOf(t: TestDb, taskId: string): Promise<{ edge_type: string; fact_id: string }[]> {
  const r = await t.db.query<{ edge_type: string; fact_id: string }>(
    `SELECT e.edge_type, d.ext_uuid::text AS fact_id
       FROM hgnn_edges e
       JOIN graph_node_map s ON s.node_id = e.src_node_id
       JOIN graph_node_map d ON d.node_id = e.dst_node_id
      WHERE s.node_type = 'task' AND s.ext_uuid = $1 ORDER BY 1, 2`,
    [taskId],
  );
  return r.rows;
}

for (const kind of BACKENDS) {
  describe(`task facts (${kind})`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => {
      await t.cleanup();
    });

    it('search and read write task__reads__fact edges once; produce writes task__produces__fact', async () => {
      const taskId = await newTask(t);
      const facts = createTaskFacts(t.db, taskId);
      const known = await addFact(t.db, { text: 'Otters hold hands while sleeping', tags: ['animals'] });
      const found = await facts.search('otter sleeps');
      assert.deepEqual(
        found.map((f) => f.id),
        [known.id],
      );
      const again = await facts.read([known.id, '5eedc0de-fac7-4000-8000-000000000002', '00000000-0000-4000-8000-000000000000']);
      assert.deepEqual(
        again.map((f) => f.id),
        [known.id, '5eedc0de-fac7-4000-8000-000000000002'],
        'missing ids are skipped, order kept',
      );
      const made = await facts.produce({ text: 'Sea otters use rocks as tools', tags: ['animals'], meta_data: { by: 'test' } });
      assert.deepEqual(made.meta_data, { by: 'test' });
      const edges = await edgesOf(t, taskId);
      assert.deepEqual(edges, [
        { edge_type: 'task__produces__fact', fact_id: made.id },
        ...[
          { edge_type: 'task__reads__fact', fact_id: known.id },
          { edge_type: 'task__reads__fact', fact_id: '5eedc0de-fac7-4000-8000-000000000002' },
        ].sort((a, b) => a.fact_id.localeCompare(b.fact_id)),
      ]);
      const n = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_reads_fact WHERE task_id = $1', [taskId]);
      assert.equal(n.rows[0]?.n, 2, 'reading twice is one edge');
      const nodes = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM graph_node_map WHERE node_type = 'fact' AND ext_uuid = ANY($1::uuid[])", [
        [known.id, made.id],
      ]);
      assert.equal(nodes.rows[0]?.n, 2, 'fact graph nodes exist');
    });

    it('deleting a fact removes its edges and its graph node; bad ids are rejected without writing', async () => {
      const taskId = await newTask(t);
      const facts = createTaskFacts(t.db, taskId);
      const f = await facts.produce({ text: 'Ephemeral produced fact' });
      const mapped = "SELECT count(*)::int AS n FROM graph_node_map WHERE node_type = 'fact' AND ext_uuid = $1";
      assert.equal((await t.db.query<{ n: number }>(mapped, [f.id])).rows[0]?.n, 1);
      await deleteFact(t.db, f.id);
      assert.deepEqual(await edgesOf(t, taskId), []);
      // The statement trigger on the partitioned facts table (016) still sees the deleted rows.
      assert.equal((await t.db.query<{ n: number }>(mapped, [f.id])).rows[0]?.n, 0);
      await assert.rejects(facts.read(['nope']), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      assert.throws(
        () => createTaskFacts(t.db, 'not-a-uuid'),
        (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'),
      );
      await assert.rejects(facts.produce({ text: '' }), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      const n = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_produces_fact WHERE task_id = $1', [taskId]);
      assert.equal(n.rows[0]?.n, 0);
    });

    it('producing for a task that does not exist writes no fact', async () => {
      const facts = createTaskFacts(t.db, '00000000-0000-4000-8000-0000000000aa');
      const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts');
      await assert.rejects(facts.produce({ text: 'Orphan fact' }), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
      const afterRows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts');
      assert.equal(afterRows.rows[0]?.n, before.rows[0]?.n);
    });
  });
}
