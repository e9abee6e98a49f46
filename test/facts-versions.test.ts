import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addFact, factVersions, getFact, invalidateFact, searchAllFacts, searchFacts, updateFact } from '../src/facts/index.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

for (const kind of BACKENDS) {
  describe(`facts versions, validity and confidence (${kind})`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => {
      await t.cleanup();
    });

    it('keeps every previous version, readable in order, and search sees only the current one', async () => {
      const f = await addFact(t.db, { text: 'The walrus colony counts forty animals', tags: ['v1'], confidence: 0.6 });
      assert.equal(f.version, 1);
      const f2 = await updateFact(t.db, f.id, { text: 'The walrus colony counts fifty animals', confidence: 0.8 });
      assert.equal(f2.version, 2);
      // A plain SQL update keeps history too (the trigger does it, not the library).
      await t.db.query("UPDATE facts SET text = 'The walrus colony counts sixty animals', tags = ARRAY['v3'] WHERE id = $1", [f.id]);
      // An update that changes nothing the fact says makes no version.
      await t.db.query('UPDATE facts SET text = text WHERE id = $1', [f.id]);
      const cur = await getFact(t.db, f.id);
      assert.equal(cur.version, 3);
      assert.equal(cur.text, 'The walrus colony counts sixty animals');
      const history = await factVersions(t.db, f.id);
      assert.deepEqual(
        history.map((v) => [v.version, v.text, v.confidence, v.tags]),
        [
          [1, 'The walrus colony counts forty animals', 0.6, ['v1']],
          [2, 'The walrus colony counts fifty animals', 0.8, ['v1']],
        ],
      );
      assert.ok(history.every((v) => v.replaced_at >= v.recorded_at));
      const hits = (q: string) => searchAllFacts(t.db, { query: q }).then((h) => h.map((x) => x.id));
      assert.deepEqual(await hits('walrus sixty'), [f.id], 'positive control: the current text is found');
      assert.deepEqual(await hits('walrus forty'), [], 'an old version is not searched');
    });

    it('invalidation keeps the fact readable with its reason, and asOf finds it for the time it held', async () => {
      const f = await addFact(t.db, { text: 'The lighthouse keeper is Agnes', valid_from: '2020-01-01T00:00:00Z' });
      const before1 = (await searchFacts(t.db, { query: 'lighthouse keeper' })).hits.map((h) => h.id);
      assert.deepEqual(before1, [f.id]);
      const inv = await invalidateFact(t.db, f.id, { reason: 'Agnes retired', at: '2024-06-01T00:00:00Z' });
      assert.equal(inv.invalid_reason, 'Agnes retired');
      assert.equal(inv.valid_to?.toISOString(), '2024-06-01T00:00:00.000Z');
      assert.equal(inv.version, 2);
      const read = await getFact(t.db, f.id);
      assert.equal(read.text, 'The lighthouse keeper is Agnes');
      assert.equal(read.invalid_reason, 'Agnes retired');
      assert.deepEqual((await searchFacts(t.db, { query: 'lighthouse keeper' })).hits, [], 'not valid now');
      const at = async (asOf: string) => (await searchFacts(t.db, { query: 'lighthouse keeper', asOf })).hits.map((h) => h.id);
      assert.deepEqual(await at('2023-05-05T12:00:00Z'), [f.id], 'valid then');
      assert.deepEqual(await at('2019-12-31T23:59:59Z'), [], 'not yet valid');
      assert.deepEqual(await at('2024-06-01T00:00:00Z'), [], 'valid_to is exclusive');
      await assert.rejects(invalidateFact(t.db, f.id, { reason: 'again' }), { code: 'SEEDCORE_CONFLICT' });
    });

    it('a fact valid from a future time is not valid now, but is as of then', async () => {
      const f = await addFact(t.db, { text: 'The ferry timetable changes to hourly', valid_from: '2999-01-01T00:00:00Z' });
      assert.deepEqual((await searchFacts(t.db, { query: 'ferry timetable' })).hits, []);
      assert.deepEqual(
        (await searchFacts(t.db, { query: 'ferry timetable', asOf: '2999-06-01T00:00:00Z' })).hits.map((h) => h.id),
        [f.id],
      );
      const gone = await invalidateFact(t.db, f.id, { reason: 'the timetable was withdrawn' });
      assert.equal(gone.valid_to?.toISOString(), '2999-01-01T00:00:00.000Z', 'a fact that never started ends where it starts');
      assert.deepEqual((await searchFacts(t.db, { query: 'ferry timetable', asOf: '2999-06-01T00:00:00Z' })).hits, []);
    });

    it('ranks by text relevance × (0.5 + 0.5 × confidence) and filters by minimum confidence', async () => {
      const sure = await addFact(t.db, { text: 'Quokkas live on Rottnest island', confidence: 1 });
      const unsure = await addFact(t.db, { text: 'Quokkas live on Rottnest island', confidence: 0.2 });
      const page = await searchFacts(t.db, { query: 'quokkas rottnest' });
      assert.deepEqual(
        page.hits.map((h) => h.id),
        [sure.id, unsure.id],
      );
      const [a, b] = page.hits;
      assert.ok(a && b);
      assert.equal(a.text_rank, b.text_rank, 'same text, same relevance');
      assert.ok(Math.abs(a.rank - a.text_rank * 1) < 1e-9);
      assert.ok(Math.abs(b.rank - b.text_rank * 0.6) < 1e-9);
      const min = await searchFacts(t.db, { query: 'quokkas rottnest', minConfidence: 0.5 });
      assert.deepEqual(
        min.hits.map((h) => h.id),
        [sure.id],
      );
    });

    it('lists newest first across pages by cursor; a forged listing cursor is invalid input', async () => {
      const all = await searchAllFacts(t.db, { limit: 2 });
      const one = await searchAllFacts(t.db, { limit: 1000 });
      assert.ok(all.length >= 5);
      assert.deepEqual(
        all.map((f) => f.id),
        one.map((f) => f.id),
        'pages of 2 give the same list as one page',
      );
      for (const t2 of ['+275760-09-13T00:00:00Z', '0000-01-01', 'foo 1']) {
        const forged = Buffer.from(JSON.stringify({ t: t2, i: '00000000-0000-4000-8000-000000000001' })).toString('base64url');
        await assert.rejects(searchFacts(t.db, { cursor: forged }), { code: 'SEEDCORE_INVALID_INPUT' }, t2);
      }
    });

    it('rejects bad confidence, timestamps and half statements, writing nothing', async () => {
      const n = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts')).rows[0]?.n;
      const before2 = await n();
      for (const bad of [
        { text: 'x', confidence: 1.5 },
        { text: 'x', confidence: Number.NaN },
        { text: 'x', valid_from: 'foo 1' },
        { text: 'x', valid_from: '2026-02-31' },
        { text: 'x', valid_from: '0000-01-01T00:00:00Z' },
        { text: 'x', valid_from: '+275760-09-13T00:00:00Z' },
        { text: 'x', subject: 'only a subject' },
        { text: 'x', valid_from: '2025-01-02T00:00:00Z', valid_to: '2025-01-01T00:00:00Z' },
        { text: 'x', sources: [{ kind: 'uri', ref: 'not a uri' }] },
        { text: 'x', sources: [{ kind: 'task', ref: 'not-a-uuid' }] },
        { text: 'x', derivedFrom: ['00000000-0000-4000-8000-00000000dead'] },
      ]) {
        await assert.rejects(
          addFact(t.db, bad as never),
          (e: { code?: string }) => e.code === 'SEEDCORE_INVALID_INPUT' || e.code === 'SEEDCORE_NOT_FOUND',
          JSON.stringify(bad),
        );
      }
      assert.equal(await n(), before2);
      await assert.rejects(searchFacts(t.db, { query: 'x', asOf: 'yesterday' }), { code: 'SEEDCORE_INVALID_INPUT' });
      await assert.rejects(searchFacts(t.db, { query: 'x', minConfidence: 2 }), { code: 'SEEDCORE_INVALID_INPUT' });
    });
  });
}
