/**
 * The prune's plan: each batch's DELETE finds its rows through the primary key, so a batch
 * costs the same whatever the size of tasks. The same statement written with `id IN (…)` is
 * the positive control: on the same rows the planner joins it back by scanning the whole table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PRUNE_BATCH_SQL, pruneTasks } from '../src/tasks/retention.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

const ROWS = 20_000;

for (const kind of BACKENDS) {
  describe(`prune plan (${kind})`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
      await t.db.exec(`INSERT INTO tasks (type, status, created_at, updated_at)
        SELECT 'old', 'completed', now() - interval '30 days', now() - interval '30 days' FROM generate_series(1, ${ROWS});
        ANALYZE tasks`);
    });
    after(async () => t.cleanup());

    const plan = async (sql: string): Promise<string> =>
      (await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, [['completed'], 86_400, 5000])).rows.map((r) => r['QUERY PLAN']).join('\n');

    it('the batch is deleted through tasks_pkey, not by a scan of the table', async () => {
      const p = await plan(PRUNE_BATCH_SQL);
      assert.match(p, /Index Scan using tasks_pkey on tasks\n\s+Index Cond: \(id = ANY/, p);
      assert.doesNotMatch(p, /Seq Scan on tasks/, p);
    });

    it('positive control: the IN form of the same statement scans the whole table', async () => {
      const inForm = PRUNE_BATCH_SQL.replace('id = ANY(ARRAY(', 'id IN ((').replace(/\)\)$/, '))');
      assert.notEqual(inForm, PRUNE_BATCH_SQL);
      assert.match(await plan(inForm), /Seq Scan on tasks/);
    });

    it('prunes every old row in batches', async () => {
      assert.deepEqual(await pruneTasks(t.db, { olderThanSeconds: 86_400, batchSize: 5000 }), { deleted: ROWS, batches: 5 });
      assert.equal((await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE type = 'old'")).rows[0]?.n, 0);
    });
  });
}
