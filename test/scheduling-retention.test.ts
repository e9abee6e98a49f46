import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseAge, pruneTasks } from '../src/tasks/retention.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';

for (const kind of BACKENDS) {
  describe(`retention on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => t.cleanup());

    it('parses ages', () => {
      assert.deepEqual([parseAge('7d'), parseAge('12h'), parseAge('30m'), parseAge('45s'), parseAge('90')], [604_800, 43_200, 1800, 45, 90]);
      assert.throws(() => parseAge('soon'), { code: 'SEEDCORE_INVALID_INPUT' });
    });

    it('prunes old completed tasks in batches; keeps recent, unfinished, graph-linked and dependency-linked ones', async () => {
      await t.db.exec(`
        INSERT INTO tasks (type, status, created_at, updated_at)
          SELECT 'old', 'completed', now() - interval '10 days', now() - interval '9 days' FROM generate_series(1, 230);
        INSERT INTO tasks (type, status, created_at, updated_at)
          SELECT 'old-failed', 'failed', now() - interval '10 days', now() - interval '9 days' FROM generate_series(1, 5);
        INSERT INTO tasks (type, status, created_at, updated_at)
          SELECT 'recent', 'completed', now() - interval '10 days', now() - interval '1 hour' FROM generate_series(1, 7);
        INSERT INTO tasks (type, status, created_at) SELECT 'waiting', 'queued', now() - interval '10 days' FROM generate_series(1, 3);
        INSERT INTO tasks (id, type, status, created_at, updated_at) VALUES
          ('00000000-0000-4000-8000-000000000001', 'graph', 'completed', now() - interval '10 days', now() - interval '9 days'),
          ('00000000-0000-4000-8000-000000000002', 'dep-a', 'completed', now() - interval '10 days', now() - interval '9 days'),
          ('00000000-0000-4000-8000-000000000003', 'dep-b', 'completed', now() - interval '10 days', now() - interval '9 days');
        SELECT ensure_task_node('00000000-0000-4000-8000-000000000001');`);
      // The edge insert may register graph nodes too (edge triggers); delete those so the edge alone keeps them.
      await t.db
        .exec(`INSERT INTO task_depends_on_task (src_task_id, dst_task_id) VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003');
        DELETE FROM graph_node_map WHERE ext_uuid IN ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003');`);
      const progress: number[] = [];
      const r = await pruneTasks(t.db, { olderThanSeconds: 7 * 86_400, batchSize: 100, onProgress: (p) => progress.push(p.deleted) });
      assert.deepEqual(r, { deleted: 230, batches: 3 });
      assert.deepEqual(progress, [100, 200, 230]);
      const left = await t.db.query<{ type: string; n: number }>('SELECT type, count(*)::int AS n FROM tasks GROUP BY type ORDER BY type');
      assert.deepEqual(
        left.rows.map((x) => `${x.type}:${x.n}`),
        ['dep-a:1', 'dep-b:1', 'graph:1', 'old-failed:5', 'recent:7', 'waiting:3'],
      );
      const failed = await pruneTasks(t.db, { olderThanSeconds: 7 * 86_400, statuses: ['failed'], vacuum: true });
      assert.equal(failed.deleted, 5);
      await assert.rejects(pruneTasks(t.db, { olderThanSeconds: 1, statuses: ['queued'] }), { code: 'SEEDCORE_INVALID_INPUT' });
      await assert.rejects(pruneTasks(t.db, { olderThanSeconds: 1, batchSize: 0 }), { code: 'SEEDCORE_INVALID_INPUT' });
    });

    it('CLI: tasks prune --older-than --batch --json', async () => {
      const env = kind === 'postgres' ? { DATABASE_URL: t.url } : {};
      const dir = `${process.env.TMPDIR ?? '/tmp'}/seedcore-prune-${process.pid}-${Date.now()}`;
      const pre = kind === 'postgres' ? [] : ['--data-dir', dir];
      if (kind === 'postgres')
        await t.db.exec(
          "INSERT INTO tasks (type, status, created_at, updated_at) SELECT 'x', 'completed', now() - interval '3 days', now() - interval '3 days' FROM generate_series(1, 25)",
        );
      try {
        const res = await runCli([...pre, '--json', 'tasks', 'prune', '--older-than', '2d', '--batch', '10'], env);
        assert.equal(res.code, 0, res.stderr);
        assert.deepEqual(JSON.parse(res.stdout), kind === 'postgres' ? { deleted: 25, batches: 3 } : { deleted: 0, batches: 1 });
        const badAge = await runCli([...pre, 'tasks', 'prune', '--older-than', 'soon'], env);
        assert.equal(badAge.code, 2);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
