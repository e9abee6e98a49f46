import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../src/db/index.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

/** The index's OID and pg_get_indexdef, or undefined when there is none of that name. */
async function indexState(db: Db, name: string): Promise<{ oid: number; def: string } | undefined> {
  const r = await db.query<{ oid: number; def: string }>(
    'SELECT c.oid::int AS oid, pg_get_indexdef(c.oid) AS def FROM pg_class c WHERE c.relname = $1 AND c.relkind IN ($2, $3)',
    [name, 'i', 'I'],
  );
  return r.rows[0];
}

async function ensure(db: Db, name: string, definition: string): Promise<string | undefined> {
  const r = await db.query<{ outcome: string }>('SELECT seedcore_ensure_index($1, $2) AS outcome', [name, definition]);
  return r.rows[0]?.outcome;
}

for (const kind of BACKENDS) {
  describe(`seedcore_ensure_index (migration 026) on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
      await t.db.exec(`CREATE TABLE ensure_probe_t (a int, b text, c int);
        INSERT INTO ensure_probe_t VALUES (1, 'x', 1), (1, 'y', 2);`);
    });
    after(async () => t.cleanup());

    it('missing: created; same: untouched (same OID); different: rebuilt', async () => {
      assert.equal(await indexState(t.db, 'ensure_probe_a'), undefined);
      assert.equal(await ensure(t.db, 'ensure_probe_a', 'CREATE INDEX ON ensure_probe_t (a)'), 'created');
      const made = await indexState(t.db, 'ensure_probe_a');
      assert.equal(made?.def, 'CREATE INDEX ensure_probe_a ON public.ensure_probe_t USING btree (a)');

      // The same index written another way (pg_get_indexdef's own output, a trailing ';').
      assert.equal(await ensure(t.db, 'ensure_probe_a', 'create index on ensure_probe_t(a)'), 'unchanged');
      assert.equal(await ensure(t.db, 'ensure_probe_a', `${made?.def};`), 'unchanged');
      assert.equal((await indexState(t.db, 'ensure_probe_a'))?.oid, made?.oid, 'not rebuilt');

      assert.equal(await ensure(t.db, 'ensure_probe_a', 'CREATE INDEX ON ensure_probe_t (a) WHERE c > 0'), 'rebuilt');
      const partial = await indexState(t.db, 'ensure_probe_a');
      assert.notEqual(partial?.oid, made?.oid);
      assert.equal(partial?.def, 'CREATE INDEX ensure_probe_a ON public.ensure_probe_t USING btree (a) WHERE (c > 0)');

      // Uniqueness alone is a difference (pg_get_indexdef from USING on does not show it).
      assert.equal(await ensure(t.db, 'ensure_probe_b', 'CREATE INDEX ON ensure_probe_t (b)'), 'created');
      assert.equal(await ensure(t.db, 'ensure_probe_b', 'CREATE UNIQUE INDEX ON ensure_probe_t (b)'), 'rebuilt');
      assert.match((await indexState(t.db, 'ensure_probe_b'))?.def ?? '', /^CREATE UNIQUE INDEX ensure_probe_b /);
      assert.equal(await ensure(t.db, 'ensure_probe_b', 'CREATE UNIQUE INDEX ON ensure_probe_t (b)'), 'unchanged');
    });

    it('agrees with the indexes the earlier migrations built (same canonical form)', async () => {
      const claim = await indexState(t.db, 'idx_tasks_claim');
      assert.ok(claim, 'idx_tasks_claim exists');
      assert.equal(await ensure(t.db, 'idx_tasks_claim', claim.def), 'unchanged');
      assert.equal(
        await ensure(
          t.db,
          'idx_tasks_claim',
          "CREATE INDEX ON tasks (queue, priority, (COALESCE(run_after, created_at)), created_at) WHERE status IN ('queued', 'retry') AND route_organ IS NULL AND requires IS NULL",
        ),
        'unchanged',
        "021's definition, as 021 writes it",
      );
      assert.equal((await indexState(t.db, 'idx_tasks_claim'))?.oid, claim.oid);
    });

    it('a bad definition is an error and leaves the old index as it was', async () => {
      const before = await indexState(t.db, 'ensure_probe_a');
      assert.ok(before);
      // Fails on the empty copy, before anything is dropped.
      await assert.rejects(ensure(t.db, 'ensure_probe_a', 'CREATE INDEX ON ensure_probe_t (no_such_column)'), /no_such_column/);
      // Fails on the real table after the old index was dropped: the drop is rolled back too.
      await assert.rejects(ensure(t.db, 'ensure_probe_a', 'CREATE UNIQUE INDEX ON ensure_probe_t (a)'), /could not create unique index/);
      // Inside a transaction (as a migration runs it) the same holds.
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await tx.query('SELECT seedcore_ensure_index($1, $2)', ['ensure_probe_a', 'CREATE UNIQUE INDEX ON ensure_probe_t (a)']);
        }),
        /could not create unique index/,
      );
      assert.deepEqual(await indexState(t.db, 'ensure_probe_a'), before, 'same OID and definition');
      assert.equal(await indexState(t.db, 'seedcore_ensure_index_probe_idx'), undefined, 'no probe left behind');
    });

    it('refuses forms it cannot honour, with SEEDCORE_INVALID_INPUT', async () => {
      for (const def of [
        'CREATE INDEX IF NOT EXISTS ensure_probe_a ON ensure_probe_t (a)',
        'CREATE INDEX CONCURRENTLY ON ensure_probe_t (a)',
        'CREATE INDEX other_name ON ensure_probe_t (a)',
        'CREATE INDEX ON ONLY ensure_probe_t (a)',
        'DROP INDEX ensure_probe_a',
      ]) {
        await assert.rejects(ensure(t.db, 'ensure_probe_a', def), { code: 'SEEDCORE_INVALID_INPUT' }, def);
      }
      // An index of that name on another table is not taken away.
      await assert.rejects(ensure(t.db, 'idx_tasks_claim', 'CREATE INDEX ON ensure_probe_t (a)'), { code: 'SEEDCORE_INVALID_INPUT' });
      assert.ok(await indexState(t.db, 'idx_tasks_claim'));
    });

    it('partitioned table (facts, 016): builds on every partition, recognizes and rebuilds the parent', async () => {
      const partitionIndexes = async (parent: string) =>
        (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = to_regclass($1)', [parent])).rows[0]?.n;
      const partitions = (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'facts'::regclass")).rows[0]?.n;
      assert.ok(partitions && partitions > 1, 'facts is partitioned');

      const created = await indexState(t.db, 'idx_facts_created_at');
      assert.match(created?.def ?? '', / ON ONLY public\.facts USING btree \(created_at\)$/);
      assert.equal(await ensure(t.db, 'idx_facts_created_at', 'CREATE INDEX ON facts (created_at)'), 'unchanged');

      assert.equal(await ensure(t.db, 'ensure_probe_facts', 'CREATE INDEX ON facts (updated_at, created_at)'), 'created');
      assert.equal(await partitionIndexes('ensure_probe_facts'), partitions, 'one index per partition');
      const first = await indexState(t.db, 'ensure_probe_facts');
      assert.equal(await ensure(t.db, 'ensure_probe_facts', 'CREATE INDEX ON facts (updated_at, created_at)'), 'unchanged');
      assert.equal((await indexState(t.db, 'ensure_probe_facts'))?.oid, first?.oid);
      assert.equal(await ensure(t.db, 'ensure_probe_facts', 'CREATE INDEX ON facts (updated_at)'), 'rebuilt');
      assert.equal(await partitionIndexes('ensure_probe_facts'), partitions);
      assert.match((await indexState(t.db, 'ensure_probe_facts'))?.def ?? '', /USING btree \(updated_at\)$/);
    });
  });
}
