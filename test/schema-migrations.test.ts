import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadMigrations } from '../src/migrate/files.js';
import { migrate } from '../src/migrate/runner.js';
import { verifySchema } from '../src/migrate/verify.js';
import { BACKENDS, emptyDb, freshDb, type TestDb } from './helpers/db.js';
import { catalogueSnapshot } from './helpers/catalogue.js';

const snapshots = new Map<string, Record<string, string[]>>();

for (const kind of BACKENDS) {
  describe(`migrations on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => t.cleanup());

    it('creates everything the seed promises (verify passes)', async () => {
      const report = await verifySchema(t.db);
      assert.deepEqual(report.missing, []);
      assert.equal(report.ok, true);
      snapshots.set(kind, await catalogueSnapshot(t.db));
    });

    it('is idempotent: every file applied again (as psql would) changes nothing', async () => {
      const before = await catalogueSnapshot(t.db);
      const counts = async () =>
        (await t.db.query<{ n: number }>('SELECT (SELECT count(*) FROM facts) + (SELECT count(*) FROM graph_node_map) AS n')).rows[0]?.n;
      const rowsBefore = await counts();
      for (const f of loadMigrations()) await t.db.exec(f.sql);
      assert.deepEqual(await catalogueSnapshot(t.db), before);
      assert.equal(await counts(), rowsBefore);
      const facts = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM facts WHERE text = 'SeedCore is a scalable task management system'");
      assert.equal(facts.rows[0]?.n, 1, 'sample facts are inserted exactly once');
    });

    it('verify reports a dropped view and a dropped function', async () => {
      await t.db.exec('DROP VIEW active_instance; DROP FUNCTION backfill_task_nodes()');
      const report = await verifySchema(t.db);
      assert.equal(report.ok, false);
      assert.deepEqual(report.missing.map((m) => m.name).sort(), ['active_instance', 'backfill_task_nodes()']);
    });

    it('004 converts a legacy TEXT status column with upper-case values to the enum', async () => {
      const legacy = await emptyDb(kind);
      try {
        await legacy.db.exec(`
          CREATE TABLE tasks (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            status text NOT NULL DEFAULT 'CREATED' CHECK (status IN ('CREATED','QUEUED','RUNNING','COMPLETED','FAILED','CANCELLED','RETRY')),
            attempts integer NOT NULL DEFAULT 0, locked_by text, locked_at timestamptz, run_after timestamptz,
            type text NOT NULL, description text, domain text, drift_score double precision NOT NULL DEFAULT 0.0,
            params jsonb NOT NULL DEFAULT '{}'::jsonb, result jsonb, error text,
            created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
          INSERT INTO tasks (status, type) VALUES ('QUEUED','a'), ('RETRY','b'), ('COMPLETED','c'), ('CREATED','d');`);
        await migrate(legacy.db);
        const type = await legacy.db.query<{ t: string }>(
          "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'tasks'::regclass AND attname = 'status'",
        );
        assert.equal(type.rows[0]?.t, 'taskstatus');
        const rows = await legacy.db.query<{ type: string; status: string }>('SELECT type, status::text AS status FROM tasks ORDER BY type');
        assert.deepEqual(
          rows.rows.map((r) => `${r.type}:${r.status}`),
          ['a:queued', 'b:retry', 'c:completed', 'd:created'],
        );
        // The converted column accepts the enum and its default, and rejects the old labels.
        await legacy.db.query("INSERT INTO tasks (type) VALUES ('e')");
        assert.equal((await legacy.db.query<{ s: string }>("SELECT status::text AS s FROM tasks WHERE type = 'e'")).rows[0]?.s, 'created');
        await assert.rejects(legacy.db.query("INSERT INTO tasks (type, status) VALUES ('f', 'QUEUED')"), { code: 'SEEDCORE_INVALID_INPUT' });
        assert.equal((await verifySchema(legacy.db)).ok, true);
      } finally {
        await legacy.cleanup();
      }
    });
  });
}

if (BACKENDS.length === 2) {
  describe('PGlite and PostgreSQL', () => {
    it('get the same catalogue from the same files', () => {
      const a = snapshots.get('pglite');
      const b = snapshots.get('postgres');
      assert.ok(a && b, 'both snapshots were taken');
      for (const key of Object.keys(a)) assert.deepEqual(a[key], b[key], `catalogue section ${key} differs`);
    });
  });
}
