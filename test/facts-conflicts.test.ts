import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../src/db/types.js';
import { addFact, getFact, listFactConflicts, resolveFactConflict, searchAllFacts, searchFacts, setPredicatePolicy, updateFact } from '../src/facts/index.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

async function conflictPairs(db: Db, subject: string): Promise<Array<{ a: string; b: string }>> {
  const r = await db.query<{ a: string; b: string }>(
    `SELECT coalesce(x.object, x.text) AS a, coalesce(y.object, y.text) AS b
       FROM fact_conflicts c JOIN facts x ON x.id = c.fact_id JOIN facts y ON y.id = c.other_fact_id
      WHERE c.subject = $1 ORDER BY 1, 2`,
    [subject],
  );
  return r.rows;
}

for (const kind of BACKENDS) {
  describe(`facts conflicts and policies (${kind})`, () => {
    let t: TestDb;
    before(async () => {
      // 20 connections on the server, so the 20 writers below really run at the same time.
      t = await freshDb(kind, { poolSize: 22 });
    });
    after(async () => {
      await t.cleanup();
    });

    it('20 concurrent writers of one subject/predicate (keep_both): one conflict per pair of different values, none twice', async () => {
      // Values v0..v9, each written twice: 190 pairs, 10 of them agree, so 180 conflicts.
      const input = (i: number) => ({ text: `The buoy reads level ${i % 10}`, subject: 'buoy-7', predicate: 'level', object: `v${i % 10}` });
      let facts;
      if (kind === 'postgres') {
        // All 20 transactions are open at once (a barrier after BEGIN) on 20 connections before
        // any of them writes, so the writes really race.
        let started = 0;
        let release!: () => void;
        const barrier = new Promise<void>((resolve) => (release = resolve));
        const pids = new Set<number>();
        facts = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            t.db.transaction(async (tx) => {
              pids.add((await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number);
              if (++started === 20) release();
              await barrier;
              return addFact(tx, input(i));
            }),
          ),
        );
        assert.equal(pids.size, 20, '20 server sessions');
      } else {
        facts = await Promise.all(Array.from({ length: 20 }, (_, i) => addFact(t.db, input(i))));
      }
      assert.equal(new Set(facts.map((f) => f.id)).size, 20);
      const pairs = await conflictPairs(t.db, 'buoy-7');
      assert.equal(pairs.length, 180);
      assert.ok(
        pairs.every((p) => p.a !== p.b),
        'equal values never conflict',
      );
      const unordered = new Set(pairs.map((p) => [p.a, p.b].sort().join('|')));
      // Each unordered value pair (45 of them) appears once per pair of facts holding them: 2 × 2.
      assert.equal(unordered.size, 45);
      const byPair = new Map<string, number>();
      for (const p of pairs) byPair.set([p.a, p.b].sort().join('|'), (byPair.get([p.a, p.b].sort().join('|')) ?? 0) + 1);
      assert.ok([...byPair.values()].every((n) => n === 4));
      // keep_both: search returns every one of them, flagged.
      const hits = await searchAllFacts(t.db, { query: 'buoy reads level' });
      assert.equal(hits.length, 20);
      const page = await searchFacts(t.db, { query: 'buoy level', limit: 5 });
      assert.ok(
        page.hits.every((h) => h.conflicts === 18),
        'each conflicts with the 18 facts of other values',
      );
    });

    it('20 concurrent writers under latest_wins: each new fact conflicts with the one visible winner, and one value stays visible', async () => {
      await setPredicatePolicy(t.db, 'reading', 'latest_wins');
      const facts = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          addFact(t.db, { text: `The gauge shows reading ${i}`, subject: 'gauge-3', predicate: 'reading', object: `r${i}` }),
        ),
      );
      const n = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM fact_conflicts WHERE subject = 'gauge-3'");
      assert.equal(n.rows[0]?.n, 19);
      const visible = await searchAllFacts(t.db, { query: 'gauge reading' });
      assert.equal(visible.length, 1);
      const rows = await t.db.query<{ id: string }>(
        "SELECT id::text AS id FROM facts WHERE subject = 'gauge-3' ORDER BY valid_from DESC, created_at DESC, id DESC LIMIT 1",
      );
      assert.equal(visible[0]?.id, rows.rows[0]?.id, 'the latest valid_from wins');
      const superseded = (await Promise.all(facts.map((f) => getFact(t.db, f.id)))).filter((f) => f.superseded);
      assert.equal(superseded.length, 19);
    });

    it('policies decide what search returns, now and asOf; resolving by hand invalidates the loser', async () => {
      const bonn = await addFact(t.db, {
        text: 'The seat of government is Bonn',
        subject: 'germany',
        predicate: 'seat_of_government',
        object: 'Bonn',
        confidence: 0.9,
        valid_from: '1990-10-03T00:00:00Z',
      });
      const berlin = await addFact(t.db, {
        text: 'The seat of government is Berlin',
        subject: 'germany',
        predicate: 'seat_of_government',
        object: 'Berlin',
        confidence: 0.7,
        valid_from: '1999-09-01T00:00:00Z',
      });
      const ids = async (o: Parameters<typeof searchFacts>[1] = {}) =>
        (await searchFacts(t.db, { query: 'seat government', ...o })).hits.map((h) => h.id).sort();
      assert.deepEqual(await ids(), [bonn.id, berlin.id].sort(), 'keep_both (the default) returns both');
      const flagged = (await searchFacts(t.db, { query: 'seat government' })).hits;
      assert.ok(flagged.every((h) => h.conflicts === 1));

      await setPredicatePolicy(t.db, 'seat_of_government', 'latest_wins');
      assert.deepEqual(await ids(), [berlin.id]);
      assert.equal((await getFact(t.db, bonn.id)).superseded, true);
      await setPredicatePolicy(t.db, 'seat_of_government', 'highest_confidence');
      assert.deepEqual(await ids(), [bonn.id]);
      // Raising Berlin's confidence re-applies the policy on write.
      await updateFact(t.db, berlin.id, { confidence: 0.95 });
      assert.deepEqual(await ids(), [berlin.id]);
      // asOf applies the policy to the facts that held then: Berlin (0.95) wins in 2005, and
      // in 1995 Bonn was the only one holding, so it is not superseded there.
      assert.deepEqual(await ids({ asOf: '2005-01-01T00:00:00Z' }), [berlin.id], 'highest_confidence among the facts holding in 2005');
      assert.deepEqual(await ids({ asOf: '1995-01-01T00:00:00Z' }), [bonn.id], 'in 1995 only Bonn held');
      await setPredicatePolicy(t.db, 'seat_of_government', 'latest_wins');
      assert.deepEqual(await ids({ asOf: '2005-01-01T00:00:00Z' }), [berlin.id], 'latest valid_from among the facts holding in 2005');
      await setPredicatePolicy(t.db, 'seat_of_government', 'keep_both');
      assert.deepEqual(await ids({ asOf: '2005-01-01T00:00:00Z' }), [bonn.id, berlin.id].sort(), 'keep_both: both held in 2005');
      await setPredicatePolicy(t.db, 'seat_of_government', 'highest_confidence');

      const open = await listFactConflicts(t.db, { subject: 'germany' });
      assert.equal(open.items.length, 1);
      const c = open.items[0];
      assert.ok(c);
      assert.deepEqual([c.fact_value, c.other_value].sort(), ['Berlin', 'Bonn']);
      await assert.rejects(resolveFactConflict(t.db, c.id, { winner: '00000000-0000-4000-8000-000000000009' }), { code: 'SEEDCORE_INVALID_INPUT' });
      const done = await resolveFactConflict(t.db, c.id, { winner: berlin.id, note: 'moved in 1999', by: 'archivist' });
      assert.equal(done.status, 'resolved');
      assert.equal(done.resolution, 'winner');
      assert.equal(done.winner_fact_id, berlin.id);
      const loser = await getFact(t.db, bonn.id);
      assert.ok(loser.valid_to !== null, 'the loser is invalidated');
      assert.match(loser.invalid_reason ?? '', new RegExp(`conflict ${c.id} resolved in favour of ${berlin.id}: moved in 1999`));
      assert.equal((await listFactConflicts(t.db, { subject: 'germany' })).items.length, 0);
      assert.equal((await listFactConflicts(t.db, { subject: 'germany', status: 'resolved' })).items.length, 1);
      await assert.rejects(resolveFactConflict(t.db, c.id, { keepBoth: true }), { code: 'SEEDCORE_CONFLICT' });
      await setPredicatePolicy(t.db, 'seat_of_government', 'keep_both');
      assert.deepEqual(await ids(), [berlin.id], 'an invalidated fact stays out whatever the policy');
    });

    it(
      'a REPEATABLE READ writer whose snapshot missed another writer of the group gets a serialization failure, not a missed conflict',
      { skip: kind === 'pglite' ? 'PGlite has one session: no concurrent writers' : false },
      async () => {
        const well = (depth: string) => ({ text: `The well is ${depth} deep`, subject: 'well-9', predicate: 'depth', object: depth });
        const serializationFailure = (e: unknown) => {
          const cause = (e as { cause?: { code?: string } }).cause;
          return (e as { code?: string }).code === 'SEEDCORE_DB_ERROR' && cause?.code === '40001';
        };
        let ready!: () => void;
        const snapshotTaken = new Promise<void>((resolve) => (ready = resolve));
        let written!: () => void;
        const otherCommitted = new Promise<void>((resolve) => (written = resolve));
        const late = t.db.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          await tx.query('SELECT count(*) FROM facts'); // the snapshot is taken here
          ready();
          await otherCommitted;
          // Control in the same snapshot: a group nobody else wrote is written as usual.
          await addFact(tx, { text: 'The pump is 3 kW', subject: 'pump-2', predicate: 'power', object: '3 kW' });
          return addFact(tx, well('12 m'));
        });
        await snapshotTaken;
        const first = await addFact(t.db, well('10 m'));
        written();
        await assert.rejects(late, serializationFailure);
        assert.equal((await listFactConflicts(t.db, { subject: 'well-9' })).items.length, 0, 'nothing of the failed writer was kept');
        // Retried with a fresh snapshot, the same write sees the first fact and records the conflict.
        const retried = await t.db.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          return addFact(tx, well('12 m'));
        });
        const open = (await listFactConflicts(t.db, { subject: 'well-9' })).items;
        assert.deepEqual(
          open.map((c) => [c.fact_id, c.other_fact_id]),
          [[retried.id, first.id]],
        );
      },
    );

    it('keep both by hand; invalidating one side closes its conflicts; same values never conflict', async () => {
      const a = await addFact(t.db, { text: 'Mount Kea is 4207 m', subject: 'mauna-kea', predicate: 'height' });
      const same = await addFact(t.db, { text: 'Mount Kea is 4207 m', subject: 'mauna-kea', predicate: 'height' });
      assert.equal((await listFactConflicts(t.db, { subject: 'mauna-kea' })).items.length, 0, 'same value (the text): no conflict');
      const b = await addFact(t.db, { text: 'Mount Kea is 4205 m', subject: 'mauna-kea', predicate: 'height' });
      const open = (await listFactConflicts(t.db, { subject: 'mauna-kea' })).items;
      assert.equal(open.length, 2, 'the new value contradicts both earlier facts');
      const kept = await resolveFactConflict(t.db, (open[0] as { id: number }).id, { keepBoth: true });
      assert.equal(kept.resolution, 'keep_both');
      assert.equal((await getFact(t.db, b.id)).valid_to, null, 'keep both invalidates nothing');
      await t.db.query("UPDATE facts SET valid_to = now(), invalid_reason = 'resurveyed' WHERE id = $1", [b.id]);
      const after1 = await listFactConflicts(t.db, { subject: 'mauna-kea', status: 'all' });
      assert.deepEqual(
        after1.items.map((x) => x.status),
        ['resolved', 'resolved'],
      );
      assert.ok(after1.items.some((x) => x.resolution === 'invalidated' && x.note === 'resurveyed'));
      assert.ok([a.id, same.id].every((id) => typeof id === 'string'));
    });
  });
}
