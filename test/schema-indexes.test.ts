import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

/**
 * The tasks index set is small on purpose (every non-HOT update writes every index whose
 * predicate the new row satisfies). These plans show each real query path still has its index.
 */
const PATHS: { name: string; sql: string; index: string }[] = [
  {
    name: 'claim (one queue and priority, due, oldest first)',
    sql: "SELECT id FROM tasks WHERE status IN ('queued','retry') AND route_organ IS NULL AND requires IS NULL AND queue = 'default' AND priority = 'normal' AND coalesce(run_after, created_at) <= now() ORDER BY coalesce(run_after, created_at), created_at LIMIT 50 FOR UPDATE SKIP LOCKED",
    index: 'idx_tasks_claim',
  },
  {
    // An organ worker's range for one capability it provides (migration 021).
    name: 'routed claim (one capability key, queue and priority, due, oldest first)',
    sql: "SELECT id FROM tasks WHERE status IN ('queued','retry') AND (route_organ IS NOT NULL OR requires IS NOT NULL) AND coalesce('organ:' || route_organ, 'cap:' || split_part(requires[1], '>=', 1)) = 'cap:ocr' AND queue = 'default' AND priority = 'normal' AND coalesce(run_after, created_at) <= now() ORDER BY coalesce(run_after, created_at), created_at LIMIT 50 FOR UPDATE SKIP LOCKED",
    index: 'idx_tasks_claim_routed',
  },
  {
    name: 'expiry sweep',
    sql: "SELECT id FROM tasks WHERE expires_at IS NOT NULL AND expires_at <= now() AND status IN ('created','queued','retry') ORDER BY expires_at LIMIT 500",
    index: 'idx_tasks_expires',
  },
  {
    name: 'dedup look-up',
    sql: "SELECT id FROM tasks WHERE dedup_key = ANY('{k1}'::text[]) AND status IN ('created','queued','running','retry')",
    index: 'idx_tasks_dedup',
  },
  { name: 'lease sweep', sql: "SELECT id FROM tasks WHERE status = 'running' AND lease_expires_at < now()", index: 'idx_tasks_running' },
  { name: "a worker's running tasks", sql: "SELECT id FROM tasks WHERE status = 'running' AND owner_id = 'w1'", index: 'idx_tasks_running' },
  { name: 'list failed', sql: "SELECT id FROM tasks WHERE status = 'failed' ORDER BY created_at DESC LIMIT 50", index: 'idx_tasks_status' },
  { name: 'list a selective type', sql: "SELECT id FROM tasks WHERE type = 'graph_embed' ORDER BY created_at DESC LIMIT 50", index: 'idx_tasks_type' },
  { name: 'list by domain', sql: "SELECT id FROM tasks WHERE domain = 'domain-3' ORDER BY created_at DESC LIMIT 50", index: 'idx_tasks_domain' },
  { name: 'list newest', sql: 'SELECT id FROM tasks ORDER BY created_at DESC LIMIT 50', index: 'idx_tasks_created_at' },
];

for (const kind of BACKENDS) {
  describe(`tasks index plans on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
      // 20k tasks shaped like a live system: mostly completed, some queued, few running/failed.
      await t.db.exec(`
        INSERT INTO tasks (type, domain, status, created_at, owner_id, lease_expires_at, dedup_key, expires_at)
        SELECT CASE WHEN g % 200 = 0 THEN 'graph_embed' ELSE 'type-' || (g % 40) END,
               CASE WHEN g % 5 = 0 THEN 'domain-' || (g % 50) END,
               (CASE WHEN g % 100 < 85 THEN 'completed' WHEN g % 100 < 95 THEN 'queued' WHEN g % 100 < 97 THEN 'running' WHEN g % 100 < 99 THEN 'failed' ELSE 'retry' END)::taskstatus,
               now() - make_interval(secs => g),
               CASE WHEN g % 100 BETWEEN 95 AND 96 THEN 'w' || (g % 4) END,
               CASE WHEN g % 100 BETWEEN 95 AND 96 THEN now() + interval '5 minutes' END,
               CASE WHEN g % 50 = 0 THEN 'k' || g END,
               CASE WHEN g % 70 = 0 THEN now() + make_interval(secs => g) END
        FROM generate_series(1, 20000) AS g;
        UPDATE tasks SET requires = ARRAY[CASE WHEN random() < 0.5 THEN 'ocr>=2' ELSE 'translate' END]
         WHERE status = 'queued' AND type = 'type-7';
        ANALYZE tasks;`);
    });
    after(async () => t.cleanup());

    for (const path of PATHS) {
      it(`${path.name} uses ${path.index}`, async () => {
        const plan = (await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${path.sql}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
        assert.match(plan, new RegExp(path.index), plan);
      });
    }

    it('has exactly the lean index set on tasks', async () => {
      const idx = await t.db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'tasks' ORDER BY 1");
      assert.deepEqual(
        idx.rows.map((r) => r.indexname),
        // 013 adds two partial indexes that tasks without a dedup_key / expires_at never enter;
        // 018 two that tasks without a parent / not suspended never enter; 021 one for routed tasks.
        [
          'idx_tasks_claim',
          'idx_tasks_claim_routed',
          'idx_tasks_created_at',
          'idx_tasks_dedup',
          'idx_tasks_domain',
          'idx_tasks_expires',
          'idx_tasks_parent',
          'idx_tasks_running',
          'idx_tasks_status',
          'idx_tasks_type',
          'idx_tasks_waiting',
          'tasks_pkey',
        ],
      );
    });
  });
}
