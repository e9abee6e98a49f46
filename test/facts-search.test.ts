import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addFact, deleteFact, getFact, listFactConflicts, searchAllFacts, searchFacts, updateFact } from '../src/facts/index.js';
import { isSeedCoreError } from '../src/errors.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

const SAMPLE_IDS = ['5eedc0de-fac7-4000-8000-000000000001', '5eedc0de-fac7-4000-8000-000000000002', '5eedc0de-fac7-4000-8000-000000000003'];

for (const kind of BACKENDS) {
  describe(`facts (${kind})`, () => {
    let t: TestDb;
    const ids: Record<string, string> = {};
    before(async () => {
      t = await freshDb(kind);
      const add = async (key: string, text: string, tags: string[] = [], meta_data: Record<string, unknown> = {}) => {
        ids[key] = (await addFact(t.db, { text, tags, meta_data })).id;
      };
      await add('dense', 'Kafka brokers replicate partitions; kafka consumers read kafka partitions in order', ['streaming', 'ops'], { team: 'data', tier: 1 });
      await add('sparse', 'A short note that mentions kafka once among many other unrelated words about gardening and tomatoes', ['garden']);
      await add('runs', 'The scheduler runs every night and retries failed jobs', ['ops'], { team: 'infra' });
      await add('phrase', 'Vector search uses an approximate nearest neighbour index', ['search', 'ops'], { team: 'data' });
      await add('reverse', 'An index of the nearest search vector is approximate', ['search']);
      await add('html', 'Escaping matters: <script>alert(1)</script> & kafka', ['web']);
    });
    after(async () => {
      await t.cleanup();
    });

    it('the plain functions check their options against the route schemas (the same path as the facade)', async () => {
      const path = async (p: Promise<unknown>) => {
        try {
          await p;
        } catch (e) {
          assert.ok(isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'), String(e));
          return e.details?.path;
        }
        return 'accepted';
      };
      assert.equal(await path(searchFacts(t.db, { minConfidence: 2 })), 'minConfidence');
      assert.equal(await path(searchFacts(t.db, { limit: 0 })), 'limit');
      assert.equal(await path(listFactConflicts(t.db, { status: 'nope' as never })), 'status');
      // Positive control: good options are accepted.
      assert.equal(await path(searchFacts(t.db, { minConfidence: 0.5, limit: 1 })), 'accepted');
      assert.equal(await path(listFactConflicts(t.db, { status: 'all' })), 'accepted');
    });

    it('ranks the fact that mentions the term densely first, with highlighted snippets', async () => {
      const { hits } = await searchFacts(t.db, { query: 'kafka' });
      assert.deepEqual(hits.map((h) => h.id).slice(0, 1), [ids.dense]);
      assert.ok(hits.some((h) => h.id === ids.sparse));
      for (let i = 1; i < hits.length; i++) assert.ok((hits[i - 1]?.rank ?? 0) >= (hits[i]?.rank ?? 0), 'best first');
      assert.ok((hits[0]?.rank ?? 0) > 0);
      assert.match(hits[0]?.snippet ?? '', /<b>[Kk]afka<\/b>/);
    });

    it('escapes HTML in snippets, keeping only the <b> marks', async () => {
      const { hits } = await searchFacts(t.db, { query: 'escaping kafka' });
      assert.equal(hits.length, 1);
      assert.doesNotMatch(hits[0]?.snippet ?? '', /<script>/);
      assert.match(hits[0]?.snippet ?? '', /<b>Escaping<\/b>/);
    });

    it('stems English words: "running" finds "runs"', async () => {
      const { hits } = await searchFacts(t.db, { query: 'running schedulers' });
      assert.deepEqual(
        hits.map((h) => h.id),
        [ids.runs],
      );
    });

    it('matches "quoted phrases" only when the words are adjacent', async () => {
      const both = await searchFacts(t.db, { query: 'nearest index' });
      assert.deepEqual(new Set(both.hits.map((h) => h.id)), new Set([ids.phrase, ids.reverse]));
      const phrase = await searchFacts(t.db, { query: '"nearest neighbour index"' });
      assert.deepEqual(
        phrase.hits.map((h) => h.id),
        [ids.phrase],
      );
    });

    it('supports -exclusion and or', async () => {
      const excl = await searchFacts(t.db, { query: 'kafka -gardening -escaping' });
      assert.deepEqual(
        excl.hits.map((h) => h.id),
        [ids.dense],
      );
      const either = await searchFacts(t.db, { query: 'tomatoes or scheduler' });
      assert.deepEqual(new Set(either.hits.map((h) => h.id)), new Set([ids.sparse, ids.runs]));
    });

    it('filters by tags (any / all) and metadata containment', async () => {
      const any = await searchAllFacts(t.db, { tags: ['garden', 'web'] });
      assert.deepEqual(new Set(any.map((h) => h.id)), new Set([ids.sparse, ids.html]));
      const all = await searchAllFacts(t.db, { tags: ['ops', 'search'], allTags: true });
      assert.deepEqual(
        all.map((h) => h.id),
        [ids.phrase],
      );
      const meta = await searchAllFacts(t.db, { meta: { team: 'data' } });
      assert.deepEqual(new Set(meta.map((h) => h.id)), new Set([ids.dense, ids.phrase]));
      const combined = await searchFacts(t.db, { query: 'index', tags: ['ops'], meta: { team: 'data' } });
      assert.deepEqual(
        combined.hits.map((h) => h.id),
        [ids.phrase],
      );
      const sample = await searchAllFacts(t.db, { meta: { verified: true } });
      assert.deepEqual(
        sample.map((h) => h.id),
        [SAMPLE_IDS[1]],
      );
    });

    it('never errors on malformed queries; stop-word-only queries return nothing', async () => {
      for (const q of ['&&&', "'", '-', '"unbalanced quote', '((', '!:*', 'or', '"" - or -', '\\', 'kafka &', 'the and of']) {
        const page = await searchFacts(t.db, { query: q });
        assert.ok(Array.isArray(page.hits), `query ${q}`);
      }
      assert.equal((await searchFacts(t.db, { query: 'the and of' })).hits.length, 0);
      assert.deepEqual(
        (await searchFacts(t.db, { query: '"kafka consumers' })).hits.map((h) => h.id),
        [ids.dense],
      );
    });

    it('pages by keyset without duplicates or gaps, for ranked and listing queries', async () => {
      const batch = Array.from({ length: 23 }, (_, i) => ({ text: `paging ${'widget '.repeat((i % 5) + 1)}number ${i}`, tags: ['paging'] }));
      for (const f of batch) await addFact(t.db, f);
      for (const query of ['widget', '']) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<typeof searchFacts>> = await searchFacts(t.db, { query, tags: ['paging'], limit: 5, ...(cursor ? { cursor } : {}) });
          seen.push(...page.hits.map((h) => h.id));
          cursor = page.nextCursor;
          pages++;
        } while (cursor);
        assert.equal(pages, 5, `query '${query}'`);
        assert.equal(seen.length, 23);
        assert.equal(new Set(seen).size, 23, 'no duplicates');
        const oneShot = await searchFacts(t.db, { query, tags: ['paging'], limit: 100 });
        assert.deepEqual(
          seen,
          oneShot.hits.map((h) => h.id),
          'same order as one page',
        );
      }
      await assert.rejects(searchFacts(t.db, { query: 'widget', cursor: 'not-a-cursor' }), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      // Candidate cap: only the first N matches are ranked, the page says so, and paging
      // through a capped result still never repeats or skips.
      const exact = await searchFacts(t.db, { query: 'widget', limit: 100, maxCandidates: 0 });
      assert.equal(exact.hits.length, 23);
      assert.equal(exact.truncated, false);
      const capped = await searchFacts(t.db, { query: 'widget', limit: 100, maxCandidates: 10 });
      assert.equal(capped.hits.length, 10);
      assert.equal(capped.truncated, true);
      const pagedIds: string[] = [];
      let c: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof searchFacts>> = await searchFacts(t.db, {
          query: 'widget',
          limit: 3,
          maxCandidates: 10,
          ...(c ? { cursor: c } : {}),
        });
        pagedIds.push(...page.hits.map((h) => h.id));
        c = page.nextCursor;
      } while (c);
      assert.deepEqual(
        pagedIds,
        capped.hits.map((h) => h.id),
      );
    });

    it('lists newest first without a query and holds the three sample facts exactly once', async () => {
      const all = await searchAllFacts(t.db, { limit: 1000 });
      for (const id of SAMPLE_IDS) assert.equal(all.filter((f) => f.id === id).length, 1);
      for (let i = 1; i < all.length; i++) assert.ok((all[i - 1]?.created_at.getTime() ?? 0) >= (all[i]?.created_at.getTime() ?? 0));
      const r = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts WHERE id = ANY($1::uuid[])', [SAMPLE_IDS]);
      assert.equal(r.rows[0]?.n, 3);
    });

    it('adds, gets by prefix, updates and deletes; rejects bad input writing nothing', async () => {
      const f = await addFact(t.db, { text: 'Temporary fact about zeppelins', tags: ['tmp', 'tmp'], meta_data: { a: 1 } });
      assert.deepEqual(f.tags, ['tmp']);
      assert.equal((await getFact(t.db, f.id.slice(0, 13))).id, f.id);
      await assert.rejects(getFact(t.db, '5eedc0de'), (e) => isSeedCoreError(e, 'SEEDCORE_AMBIGUOUS_ID'));
      await assert.rejects(getFact(t.db, 'zz'), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      const u = await updateFact(t.db, f.id, { text: 'Updated fact about airships', meta_data: { b: 2 } });
      assert.equal(u.text, 'Updated fact about airships');
      assert.deepEqual(u.tags, ['tmp']);
      assert.deepEqual(u.meta_data, { b: 2 });
      assert.ok(u.updated_at.getTime() >= f.updated_at.getTime());
      assert.deepEqual(
        (await searchFacts(t.db, { query: 'airship' })).hits.map((h) => h.id),
        [f.id],
      );
      assert.equal((await searchFacts(t.db, { query: 'zeppelins' })).hits.length, 0);
      const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts');
      await assert.rejects(addFact(t.db, { text: '   ' }), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      await assert.rejects(addFact(t.db, { text: 'x', tags: [''] }), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      await assert.rejects(addFact(t.db, { text: 'x', meta_data: [] as unknown as Record<string, unknown> }), (e) =>
        isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'),
      );
      await assert.rejects(updateFact(t.db, f.id, {}), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      const afterBad = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts');
      assert.equal(afterBad.rows[0]?.n, before.rows[0]?.n);
      await deleteFact(t.db, f.id);
      await assert.rejects(getFact(t.db, f.id), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
      await assert.rejects(deleteFact(t.db, f.id), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
    });
  });
}
