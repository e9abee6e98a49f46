import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { searchFacts } from '../src/facts/index.js';
import type { Queryable } from '../src/db/types.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

/**
 * Migration 016: one GIN index over (search_vector, tags, meta_data). Searches match on the
 * stored vector, so the index serves them and a recheck never re-parses a fact's text; a text
 * query with a tag or metadata filter can be one scan of that index instead of a BitmapAnd
 * with the lossy jsonb bitmap (on small tables the planner may still prefer other plans, so
 * the plans are read with the alternatives switched off inside a rolled-back transaction).
 * Migration 028 adds the confidence tenths (facts_confidence_bands) as a fourth column, so
 * minConfidence is an index condition of the same scan instead of a filter on fetched rows.
 */
const TEXT = "f.search_vector @@ websearch_to_tsquery('english', 'r13')";
const PATHS: { name: string; where: string; conds: RegExp[] }[] = [
  { name: 'text only', where: TEXT, conds: [/search_vector @@/] },
  { name: 'text and metadata', where: `${TEXT} AND f.meta_data @> '{"team":"team3"}'`, conds: [/search_vector @@/, /meta_data @>/] },
  { name: 'text and any tag', where: `${TEXT} AND f.tags && ARRAY['tag3']`, conds: [/search_vector @@/, /tags &&/] },
  {
    name: 'text and a confidence tenth',
    where: `${TEXT} AND facts_confidence_bands(f.confidence) @> ARRAY[9]`,
    conds: [/search_vector @@/, /facts_confidence_bands\(confidence\) @>/],
  },
];

class Rollback extends Error {}

for (const kind of BACKENDS) {
  describe(`facts search index plans on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
      // 20k facts: words in 10 % (w0…w9) and 1 % (r0…r96) of them, 10 teams, 20 tags,
      // confidence 0, 0.1, …, 1 in turn.
      await t.db.exec(`
        INSERT INTO facts (text, tags, meta_data, confidence)
        SELECT 'fact ' || g || ' w' || (g % 10) || ' r' || (g % 97) || ' filler words',
               ARRAY['tag' || (g % 20)], jsonb_build_object('team', 'team' || (g % 10)), (g % 11) / 10.0
          FROM generate_series(1, 20000) AS g;
        ANALYZE facts;`);
    });
    after(async () => t.cleanup());

    /** The plan with sequential scans and the single-column tag / metadata indexes out of the way. */
    async function planOf(where: string | null, stmt?: { sql: string; params: unknown[] }): Promise<string> {
      let plan = '';
      await t.db
        .transaction(async (tx) => {
          await tx.query('SET LOCAL enable_seqscan = off');
          await tx.query('DROP INDEX idx_facts_meta_data');
          await tx.query('DROP INDEX idx_facts_tags');
          const r = stmt
            ? await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${stmt.sql}`, stmt.params)
            : await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT f.id FROM facts f WHERE ${where} LIMIT 2000`);
          plan = r.rows.map((x) => x['QUERY PLAN']).join('\n');
          throw new Rollback();
        })
        .catch((e: unknown) => {
          if (!(e instanceof Rollback)) throw e;
        });
      return plan;
    }

    it('idx_facts_text_search covers the vector, the tags and the metadata', async () => {
      const r = await t.db.query<{ def: string }>("SELECT indexdef AS def FROM pg_indexes WHERE indexname = 'idx_facts_text_search'");
      assert.match(r.rows[0]?.def ?? '', /USING gin \(search_vector, tags, meta_data jsonb_path_ops, facts_confidence_bands\(confidence\)\)/);
    });

    /** idx_facts_text_search and its partitions' indexes (016: facts has 8 hash partitions). */
    async function searchIndexNames(): Promise<string[]> {
      const r = await t.db.query<{ name: string }>(
        `SELECT 'idx_facts_text_search' AS name
         UNION ALL
         SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'idx_facts_text_search'::regclass`,
      );
      return r.rows.map((x) => x.name);
    }

    /** The Index Cond of every bitmap index scan in the plan, by index name. */
    function bitmapScans(plan: string): { index: string; cond: string }[] {
      return [...plan.matchAll(/Bitmap Index Scan on (\S+)[^\n]*\n\s*Index Cond: ([^\n]*)/g)].map((m) => ({ index: m[1] ?? '', cond: m[2] ?? '' }));
    }

    for (const path of PATHS) {
      it(`${path.name}: every condition is an index condition of the search index`, async () => {
        const names = await searchIndexNames();
        assert.equal(names.length, 9, 'the index and its 8 partition indexes');
        const plan = await planOf(path.where);
        const scans = bitmapScans(plan);
        assert.ok(scans.length > 0, plan);
        for (const scan of scans) {
          assert.ok(names.includes(scan.index), plan);
          for (const c of path.conds) assert.match(scan.cond, c, plan);
        }
        assert.doesNotMatch(plan, /BitmapAnd|to_tsvector/, plan);
      });
    }

    /** The search statement searchFacts sends for `options`. */
    async function statementOf(options: Parameters<typeof searchFacts>[1]): Promise<{ sql: string; params: unknown[] }> {
      const sent: { sql: string; params: unknown[] }[] = [];
      const recorder = {
        query: (sql: string, params?: unknown[]) => {
          sent.push({ sql, params: params ?? [] });
          return t.db.query(sql, params);
        },
      } as unknown as Queryable;
      await searchFacts(recorder, options);
      const stmt = sent.find((x) => /FROM facts f/.test(x.sql));
      assert.ok(stmt, 'a search statement was sent');
      return stmt;
    }

    it('the statement searchFacts sends is served by idx_facts_text_search', async () => {
      const stmt = await statementOf({ query: 'r13', meta: { team: 'team3' }, tags: ['tag3'] });
      const plan = await planOf(null, stmt);
      const names = await searchIndexNames();
      const scans = bitmapScans(plan);
      assert.ok(scans.length > 0 && scans.every((x) => names.includes(x.index)), plan);
      assert.doesNotMatch(plan, /to_tsvector|BitmapAnd/, plan);
    });

    it('with minConfidence the GIN scan takes the confidence tenth as an index condition; without it, none (control)', async () => {
      const names = await searchIndexNames();
      const withMin = bitmapScans(await planOf(null, await statementOf({ query: 'w3', minConfidence: 0.75 })));
      assert.ok(withMin.length > 0 && withMin.every((x) => names.includes(x.index)), JSON.stringify(withMin));
      for (const scan of withMin) {
        assert.match(scan.cond, /search_vector @@/);
        assert.match(scan.cond, /facts_confidence_bands\(confidence\) @> /);
      }
      const without = bitmapScans(await planOf(null, await statementOf({ query: 'w3' })));
      assert.ok(without.length > 0 && without.every((x) => names.includes(x.index)), JSON.stringify(without));
      for (const scan of without) assert.doesNotMatch(scan.cond, /confidence/);
    });

    it('minConfidence through the index keeps exactly the facts with confidence >= it', async () => {
      // w3 is in 2,000 facts, 181–182 of each confidence 0, 0.1, …, 1; bounds on and between
      // tenths. Sequential scans are off, so the GIN scan with the band condition is what runs.
      await t.db.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        for (const m of [0, 0.05, 0.1, 0.3, 0.7, 0.75, 0.9, 0.95, 1]) {
          const expected = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM facts WHERE text LIKE '% w3 %' AND confidence >= $1::float8", [m]);
          const options = { query: 'w3', minConfidence: m, limit: 1000, maxCandidates: 0 };
          const first = await searchFacts(tx, options);
          const rest = first.nextCursor ? (await searchFacts(tx, { ...options, cursor: first.nextCursor })).hits : [];
          const hits = [...first.hits, ...rest];
          assert.equal(hits.length, expected.rows[0]?.n, `minConfidence ${m}`);
          assert.ok(hits.length > 0 && hits.every((h) => h.confidence >= m), `minConfidence ${m}`);
        }
      });
    });

    it('a capped search names facts_search_serial(), which keeps the planner from parallel workers (control: the same scan without it)', async () => {
      assert.match((await statementOf({ query: 'w3' })).sql, /facts_search_serial\(\)/);
      assert.doesNotMatch((await statementOf({ query: 'w3', maxCandidates: 0 })).sql, /facts_search_serial/, 'no cap: no order to keep');
      const planned = async (where: string) => {
        let plan = '';
        await t.db
          .transaction(async (tx) => {
            // Parallel plans made free, so the planner takes one wherever it may.
            for (const g of ['parallel_setup_cost', 'parallel_tuple_cost', 'min_parallel_table_scan_size', 'min_parallel_index_scan_size'])
              await tx.query(`SET LOCAL ${g} = 0`);
            await tx.query('SET LOCAL max_parallel_workers_per_gather = 2');
            const r = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT count(*) FROM facts f WHERE ${where}`);
            plan = r.rows.map((x) => x['QUERY PLAN']).join('\n');
            throw new Rollback();
          })
          .catch((e: unknown) => {
            if (!(e instanceof Rollback)) throw e;
          });
        return plan;
      };
      assert.match(await planned('f.confidence > 0.5'), /Gather/, 'control: a parallel plan without it');
      assert.doesNotMatch(await planned('f.confidence > 0.5 AND facts_search_serial()'), /Gather/);
    });

    it('the search API returns exactly the facts that match text and metadata', async () => {
      // w7 ⇔ g % 10 = 7 ⇔ team7: 2,000 facts. Ranked exactly (no cap): a page of 1,000, more to come.
      const page = await searchFacts(t.db, { query: 'w7', meta: { team: 'team7' }, limit: 1000, maxCandidates: 0 });
      assert.equal(page.hits.length, 1000);
      assert.ok(page.nextCursor !== null);
      assert.equal(page.truncated, false);
      for (const h of page.hits) assert.deepEqual(h.meta_data, { team: 'team7' });
      // With a cap below the match count the page says it ranked only the first matches.
      const capped = await searchFacts(t.db, { query: 'w7', meta: { team: 'team7' }, maxCandidates: 500 });
      assert.equal(capped.truncated, true);
      assert.equal(capped.hits.length, 20);
      const none = await searchFacts(t.db, { query: 'w7', meta: { team: 'team3' } });
      assert.equal(none.hits.length, 0);
    });
  });
}
