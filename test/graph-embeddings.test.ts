import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Db } from '../src/db/types.js';
import { isSeedCoreError } from '../src/errors.js';
import { createEmbeddingsApi, type EmbeddingsApi } from '../src/graph/index.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

/** Deterministic PRNG (mulberry32) and Gaussian. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** n vectors around `clusters` random centres (σ = 0.3 around centres in [-1, 1]^128). */
function clustered(n: number, clusters: number, seed: number): number[][] {
  const r = rng(seed);
  const centres = Array.from({ length: clusters }, () => Array.from({ length: 128 }, () => r() * 2 - 1));
  return Array.from({ length: n }, (_, i) => (centres[i % clusters] as number[]).map((c) => c + 0.3 * gauss(r)));
}

/** Map `n` new graph nodes (alternating model / skill) and return their ids in order. */
async function mapNodes(db: Db, n: number, prefix: string): Promise<number[]> {
  const r = await db.query<{ id: number | string }>(
    `WITH names AS (SELECT g, $2 || g AS name FROM generate_series(1, $1::int) g),
          m AS (INSERT INTO model (model_name) SELECT name FROM names WHERE g % 2 = 1 RETURNING model_name),
          s AS (INSERT INTO skill (skill_name) SELECT name FROM names WHERE g % 2 = 0 RETURNING skill_name)
     SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM s) AS id`,
    [n, prefix],
  );
  assert.equal(Number(r.rows[0]?.id), n);
  const ids = await db.query<{ id: number | string }>(
    `SELECT CASE WHEN g % 2 = 1 THEN ensure_model_node($2 || g) ELSE ensure_skill_node($2 || g) END AS id FROM generate_series(1, $1::int) g ORDER BY g`,
    [n, prefix],
  );
  return ids.rows.map((x) => Number(x.id));
}

const lit = (v: number[]): string => `[${v.join(',')}]`;

async function exactTopK(db: Db, v: number[], k: number, type?: string): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SET LOCAL enable_indexscan = off');
    await tx.query('SET LOCAL enable_bitmapscan = off');
    const filter = type ? `WHERE node_id IN (SELECT node_id FROM graph_node_map WHERE node_type = '${type}')` : '';
    const r = await tx.query<{ node_id: number | string }>(`SELECT node_id FROM graph_embeddings ${filter} ORDER BY emb <-> $1::vector LIMIT ${k}`, [lit(v)]);
    return r.rows.map((x) => Number(x.node_id));
  });
}

function recall(truth: number[], got: number[]): number {
  const s = new Set(got);
  return truth.filter((x) => s.has(x)).length / truth.length;
}

for (const kind of BACKENDS) {
  describe(`embeddings (${kind})`, () => {
    let t: TestDb;
    let e: EmbeddingsApi;
    let ids: number[];
    let vecs: number[][];
    before(async () => {
      t = await freshDb(kind);
      e = createEmbeddingsApi(t.db);
    });
    after(async () => {
      await t.cleanup();
    });

    it('starts with the HNSW index of 014', async () => {
      // (014's ALTER DATABASE default is not checked here: CREATE DATABASE … TEMPLATE, which
      // the test helper uses, does not copy per-database settings.)
      const info = await e.indexInfo();
      assert.equal(info.method, 'hnsw');
      assert.equal(info.ef_search, 100);
    });

    it('finds every row of a tiny table (the original returned 0 rows through the empty-built ivfflat index)', async () => {
      const few = await mapNodes(t.db, 5, 'tiny-');
      const v = clustered(5, 1, 1);
      await e.upsert(few.map((nodeId, i) => ({ nodeId, vector: v[i] as number[] })));
      const hits = await e.knn({ vector: v[0] as number[] }, { k: 10 });
      assert.equal(hits.length, 5);
      assert.equal(hits[0]?.node_id, few[0]);
      assert.equal(hits[0]?.distance, 0);
      assert.ok(['model', 'skill'].includes(hits[0]?.node_type as string));
      assert.equal(hits[0]?.ext_id, 'tiny-1');
      // Plain SQL, no per-query settings: database defaults were published by the rebuild.
      const sql = 'SELECT node_id FROM graph_embeddings ORDER BY emb <-> $1::vector LIMIT 10';
      if (t.url) {
        const c = new pg.Client({ connectionString: t.url });
        await c.connect();
        try {
          assert.equal((await c.query(sql, [lit(v[0] as number[])])).rowCount, 5);
        } finally {
          await c.end();
        }
      } else assert.equal((await t.db.query(sql, [lit(v[0] as number[])])).rowCount, 5);
      assert.equal(await e.delete(few), 5);
    });

    it('rejects wrong dimensions, non-finite numbers, unknown nodes and duplicates, writing nothing', async () => {
      const [a] = await mapNodes(t.db, 1, 'bad-');
      const good = Array.from({ length: 128 }, () => 0.5);
      const count = async (): Promise<number> => Number((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM graph_embeddings')).rows[0]?.n);
      const n0 = await count();
      const invalid = (re: RegExp) => (err: unknown) => isSeedCoreError(err, 'SEEDCORE_INVALID_INPUT') && re.test((err as Error).message);
      await assert.rejects(e.upsert([{ nodeId: a as number, vector: good.slice(0, 127) }]), invalid(/exactly 128/));
      await assert.rejects(e.upsert([{ nodeId: a as number, vector: [...good, 1] }]), invalid(/exactly 128/));
      await assert.rejects(e.upsert([{ nodeId: a as number, vector: good.map((x, i) => (i === 7 ? Number.NaN : x)) }]), invalid(/\[7\] must be a finite/));
      await assert.rejects(e.upsert([{ nodeId: a as number, vector: good.map((x, i) => (i === 3 ? Infinity : x)) }]), invalid(/finite/));
      await assert.rejects(e.upsert([{ nodeId: a as number, vector: good.map((x, i) => (i === 0 ? ('1' as unknown as number) : x)) }]), invalid(/finite/));
      await assert.rejects(
        e.upsert([
          { nodeId: a as number, vector: good },
          { nodeId: 987654321, vector: good },
        ]),
        (err) => isSeedCoreError(err, 'SEEDCORE_NOT_FOUND') && /987654321/.test((err as Error).message),
      );
      await assert.rejects(
        e.upsert([
          { nodeId: a as number, vector: good },
          { nodeId: a as number, vector: good },
        ]),
        invalid(/twice/),
      );
      await assert.rejects(e.knn({ vector: [1, 2, 3] }), invalid(/exactly 128/));
      await assert.rejects(e.knn({ vector: good }, { type: 'planet' }), invalid(/node type/));
      await assert.rejects(e.knn({ nodeId: a as number }), (err) => isSeedCoreError(err, 'SEEDCORE_NOT_FOUND'));
      assert.equal(await count(), n0);
    });

    it('round-trips get, keeps label/props on update, and deletes', async () => {
      const [a] = await mapNodes(t.db, 1, 'rt-');
      const v = Array.from({ length: 128 }, (_, i) => (i % 5) / 4 - 0.5);
      await e.upsert([{ nodeId: a as number, vector: v, label: 'L', props: { x: 1 } }]);
      await e.upsert([{ nodeId: a as number, vector: v.map((x) => x * 2) }]);
      const got = await e.get(a as number);
      assert.deepEqual(
        got?.vector,
        v.map((x) => x * 2),
      );
      assert.equal(got?.label, 'L');
      assert.deepEqual(got?.props, { x: 1 });
      assert.equal(await e.delete([a as number]), 1);
      assert.equal(await e.get(a as number), undefined);
    });

    it('reaches recall@10 >= 0.95 on clustered data with IVFFlat after reindex, through the API and plain SQL', async () => {
      ids = await mapNodes(t.db, 3000, 'v-');
      vecs = clustered(3000, 40, 7);
      await e.upsert(
        ids.map((nodeId, i) => ({ nodeId, vector: vecs[i] as number[] })),
        { autoReindex: false },
      );
      // Force many lists so the index really approximates (3000 rows would give lists = 3).
      const info = await e.reindex({ method: 'ivfflat', lists: 60 });
      assert.equal(info.rebuilt, true);
      assert.equal(info.lists, 60);
      assert.ok((info.probes ?? 0) > 1 && (info.probes ?? 0) < 60);
      // The plain query must really go through the approximate index, or recall proves nothing.
      const plan = await t.db.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT node_id FROM graph_embeddings ORDER BY emb <-> '${lit(vecs[0] as number[])}'::vector LIMIT 10`,
      );
      assert.match(plan.rows.map((x) => x['QUERY PLAN']).join('\n'), /idx_graph_embeddings_emb/);
      const queries = clustered(20, 40, 99);
      let apiRecall = 0;
      let sqlRecall = 0;
      const c = t.url ? new pg.Client({ connectionString: t.url }) : undefined;
      await c?.connect();
      try {
        for (const q of queries) {
          const truth = await exactTopK(t.db, q, 10);
          apiRecall += recall(
            truth,
            (await e.knn({ vector: q }, { k: 10 })).map((h) => h.node_id),
          );
          const sql = 'SELECT node_id FROM graph_embeddings ORDER BY emb <-> $1::vector LIMIT 10';
          const rows = c ? (await c.query<{ node_id: string }>(sql, [lit(q)])).rows : (await t.db.query<{ node_id: number }>(sql, [lit(q)])).rows;
          sqlRecall += recall(
            truth,
            rows.map((x) => Number(x.node_id)),
          );
        }
        if (c) {
          const probes = await c.query<{ p: string }>("SELECT current_setting('ivfflat.probes') AS p");
          assert.equal(Number(probes.rows[0]?.p), info.probes, 'a new session gets the database default');
        }
      } finally {
        await c?.end();
      }
      assert.ok(apiRecall / queries.length >= 0.95, `API recall ${apiRecall / queries.length}`);
      assert.ok(sqlRecall / queries.length >= 0.95, `SQL recall ${sqlRecall / queries.length}`);
    });

    it('does not lose results when filtering by node type (iterative scan)', async () => {
      const q = clustered(1, 40, 5)[0] as number[];
      const hits = await e.knn({ vector: q }, { k: 10, type: 'skill' });
      assert.equal(hits.length, 10);
      assert.ok(hits.every((h) => h.node_type === 'skill'));
      const truth = await exactTopK(t.db, q, 10, 'skill');
      assert.ok(
        recall(
          truth,
          hits.map((h) => h.node_id),
        ) >= 0.9,
      );
      for (let i = 1; i < hits.length; i++) assert.ok((hits[i]?.distance as number) >= (hits[i - 1]?.distance as number));
    });

    it('searches by node id without returning the node itself', async () => {
      const hits = await e.knn({ nodeId: ids[0] as number }, { k: 5 });
      assert.equal(hits.length, 5);
      assert.ok(!hits.some((h) => h.node_id === ids[0]));
      // Same cluster (i % 40): the nearest neighbours of vector 0 are vectors 40, 80, …
      assert.ok(hits.every((h) => ids.indexOf(h.node_id) % 40 === 0));
    });

    it('reaches recall@10 >= 0.95 with HNSW too', async () => {
      const info = await e.reindex({ method: 'hnsw' });
      assert.equal(info.method, 'hnsw');
      assert.equal((await e.indexInfo()).method, 'hnsw');
      const queries = clustered(10, 40, 123);
      let r = 0;
      for (const q of queries)
        r += recall(
          await exactTopK(t.db, q, 10),
          (await e.knn({ vector: q }, { k: 10 })).map((h) => h.node_id),
        );
      assert.ok(r / queries.length >= 0.95, `HNSW recall ${r / queries.length}`);
    });

    it('rebuilds an IVFFlat index by itself once the table has doubled', async () => {
      await e.reindex({ method: 'ivfflat' });
      const before = await e.indexInfo();
      assert.equal(before.rows, 3000);
      const more = await mapNodes(t.db, 3100, 'grow-');
      const v = clustered(3100, 40, 11);
      await e.upsert(more.map((nodeId, i) => ({ nodeId, vector: v[i] as number[] })));
      const after = await e.indexInfo();
      assert.equal(after.method, 'ivfflat');
      assert.equal(after.rows, 6100);
      assert.equal(after.lists, 6);
    });

    it('calibrates probes on overlapping clusters until sampled recall reaches the target', async () => {
      await t.db.query('DELETE FROM graph_embeddings');
      const hard = clustered(ids.length, 40, 3).map((v) => v.map((x, i) => x + 3 * Math.sin(i * 7 + x * 13))); // noise ≫ centre spacing
      await e.upsert(
        ids.map((nodeId, i) => ({ nodeId, vector: hard[i] as number[] })),
        { autoReindex: false },
      );
      const lowFixed = await e.reindex({ method: 'ivfflat', lists: 60, probes: 2 });
      assert.equal(lowFixed.calibration, undefined, 'an explicit probes value is kept');
      const r = await e.reindex({ method: 'ivfflat', lists: 60 });
      assert.ok(r.calibration, 'calibration ran');
      assert.ok((r.calibration?.recall ?? 0) >= 0.97, JSON.stringify(r.calibration));
      assert.ok((r.calibration?.tried.length ?? 0) >= 2, `the starting probes were not enough: ${JSON.stringify(r.calibration)}`);
      assert.equal(r.probes, r.calibration?.chosen);
      assert.equal((await e.indexInfo()).probes, r.probes);
    });
  });
}
