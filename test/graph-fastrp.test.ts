import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Graph from 'graphology';
import karateClub from 'graphology-generators/social/karate-club.js';
import type { Db } from '../src/db/types.js';
import { isSeedCoreError } from '../src/errors.js';
import { createEmbeddingsApi, createGraphApi, fastRP, graphHandlers, type GraphApi } from '../src/graph/index.js';
import type { RagResult } from '../src/graph/rag.js';
import { builtinHandlers } from '../src/handlers.js';
import { Dispatcher } from '../src/tasks/dispatcher.js';
import type { TaskContext, TaskRecord } from '../src/tasks/types.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { waitFor } from './helpers/wait.js';
import { inMemoryDurable } from '../src/tasks/durable/memory.js';

// A CommonJS module: its function is the namespace's default export at run time.
const karate = (karateClub as unknown as (G: typeof Graph.UndirectedGraph) => InstanceType<typeof Graph.UndirectedGraph>)(Graph.UndirectedGraph);
const members = karate.nodes();
const club = new Map(members.map((n: string) => [n, karate.getNodeAttribute(n, 'club') as string]));

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** Leave-one-out accuracy of the nearest-faction-centroid (cosine) and 1-NN classifiers. */
function looAccuracy(vecs: Map<string, number[]>): { centroid: number; nn: number } {
  let centroid = 0;
  let nn = 0;
  for (const m of members) {
    const v = vecs.get(m) as number[];
    const sums = new Map<string, number[]>();
    let best = '';
    let bestSim = -Infinity;
    for (const o of members) {
      if (o === m) continue;
      const w = vecs.get(o) as number[];
      const s = sums.get(club.get(o) as string) ?? new Array<number>(128).fill(0);
      w.forEach((x, i) => (s[i] = (s[i] as number) + x));
      sums.set(club.get(o) as string, s);
      const sim = dot(v, w);
      if (sim > bestSim) [best, bestSim] = [o, sim];
    }
    if (club.get(best) === club.get(m)) nn++;
    let bestClub = '';
    let bestCos = -Infinity;
    for (const [c, s] of sums) {
      const cos = dot(v, s) / Math.sqrt(dot(s, s));
      if (cos > bestCos) [bestClub, bestCos] = [c, cos];
    }
    if (bestClub === club.get(m)) centroid++;
  }
  return { centroid: centroid / members.length, nn: nn / members.length };
}

function ctx(db: Db): TaskContext {
  return {
    signal: new AbortController().signal,
    heartbeat: async () => undefined,
    db,
    ownerId: 'test',
    facts: {
      search: async () => [],
      read: async () => [],
      produce: async () => {
        throw new Error('not used');
      },
    },
    progress: () => undefined,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    ...inMemoryDurable(),
  };
}

function task(type: string, params: Record<string, unknown>): TaskRecord {
  return { id: '00000000-0000-4000-8000-000000000001', type, params, description: null, domain: null, drift_score: 0, attempts: 1 };
}

describe('fastRP (pure)', () => {
  const g = { nodeIds: [10, 11, 12, 13, 99], src: Int32Array.from([0, 1, 2]), dst: Int32Array.from([1, 2, 3]) };
  it('is deterministic per seed and differs across seeds', () => {
    assert.deepEqual(fastRP(g, { seed: 5 }), fastRP(g, { seed: 5 }));
    assert.notDeepEqual(fastRP(g, { seed: 5 }), fastRP(g, { seed: 6 }));
  });
  it('returns unit vectors, isolated nodes included (they keep their random vector)', () => {
    const e = fastRP(g);
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(Math.sqrt(dot(e.subarray(i * 128, i * 128 + 128), e.subarray(i * 128, i * 128 + 128))) - 1) < 1e-5);
  });
  it('weighs edge types (weight 0 ignores a relation)', () => {
    const typed = { ...g, type: Uint16Array.from([0, 1, 0]), types: ['a', 'b'] };
    const cut = fastRP(typed, { edgeTypeWeights: { b: 0 } });
    const full = fastRP(typed);
    assert.notDeepEqual(cut, full);
    // With relation b (11–12) cut, node 10's vector depends only on 10–11: same as on that edge alone.
    const alone = fastRP({ nodeIds: [10, 11], src: Int32Array.from([0]), dst: Int32Array.from([1]) });
    assert.deepEqual(
      Array.from(cut.subarray(0, 128)).map((x) => x.toFixed(5)),
      Array.from(alone.subarray(0, 128)).map((x) => x.toFixed(5)),
    );
  });
});

for (const kind of BACKENDS) {
  describe(`graph embedding and RAG (${kind})`, () => {
    let t: TestDb;
    let g: GraphApi;
    const node = new Map<string, number>();
    before(async () => {
      t = await freshDb(kind);
      g = createGraphApi(t.db);
      for (const m of members) node.set(m, (await g.createNode('agent', `karate-${m}`, { props: { club: club.get(m) } })).node_id);
      for (const e of karate.edges()) await g.addEdge('agent__collab__agent', `karate-${karate.source(e)}`, `karate-${karate.target(e)}`);
    });
    after(async () => {
      await t.cleanup();
    });

    it("separates Zachary's karate club factions (leave-one-out accuracy >= 0.9)", async () => {
      const r = await g.embedAll();
      assert.equal(r.embedded, 34);
      assert.equal(r.edge_count, 78);
      const emb = createEmbeddingsApi(t.db);
      const vecs = new Map<string, number[]>();
      for (const m of members) vecs.set(m, (await emb.get(node.get(m) as number))?.vector as number[]);
      const acc = looAccuracy(vecs);
      assert.ok(acc.centroid >= 0.9, `centroid accuracy ${acc.centroid}`);
      assert.ok(acc.nn >= 0.85, `1-NN accuracy ${acc.nn}`);
      // Nearest stored neighbours of the officer's leader (33) are mostly officers.
      const near = await emb.knn({ nodeId: node.get('33') as number }, { k: 10 });
      const officers = near.filter((h) => club.get(h.ext_id.replace('karate-', '')) === 'Officer').length;
      assert.ok(officers >= 8, `${officers}/10 officers`);
    });

    it('graph_embed embeds the k-hop neighbourhood of external ids, with the original result shape', async () => {
      const h = graphHandlers(t.db);
      const r = (await h.graph_embed?.(task('graph_embed', { start_agent_ids: ['karate-0'], k: 1 }), ctx(t.db))) as Record<string, unknown>;
      assert.equal(r.k, 1);
      assert.equal(r.start_node_count, 1);
      assert.equal(r.embedding_count, 1 + karate.degree('0'));
      assert.equal(r.embedded, r.embedding_count);
      assert.ok(Array.isArray(r.node_meta) && (r.node_meta as unknown[]).length === r.embedding_count);
      await assert.rejects(h.graph_embed?.(task('graph_embed', { start_ids: [123456789] }), ctx(t.db)) as Promise<unknown>, (e) =>
        isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'),
      );
      await assert.rejects(h.graph_embed?.(task('graph_embed', {}), ctx(t.db)) as Promise<unknown>, (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
    });

    it('graph_rag_query returns neighbours with scores and provenance paths', async () => {
      const h = graphHandlers(t.db);
      const seed = node.get('0') as number;
      const r = (await h.graph_rag_query?.(task('graph_rag_query', { start_ids: [seed], k: 2, topk: 10 }), ctx(t.db))) as RagResult;
      assert.equal(r.neighbors.length, 10);
      assert.equal(r.centroid_computed, true);
      for (let i = 1; i < r.neighbors.length; i++) assert.ok((r.neighbors[i]?.score as number) >= (r.neighbors[i - 1]?.score as number));
      for (const n of r.neighbors) {
        assert.equal(n.node_type, 'agent');
        if (n.provenance.kind === 'path') {
          assert.equal(n.provenance.seed, seed);
          assert.equal(n.provenance.edges.length, n.provenance.hops);
          const last = n.provenance.edges.at(-1);
          assert.ok(last?.src_node_id === n.node_id || last?.dst_node_id === n.node_id);
          assert.equal(last?.edge_type, 'agent__collab__agent');
        }
      }
      assert.ok(r.neighbors.some((n) => n.provenance.kind === 'path'));
      assert.ok(r.context.length > 0);
    });

    it('graph_rag_query seeds from a text query and attaches linked facts with highlighted snippets', async () => {
      const id = (await t.db.query<{ id: string }>(`INSERT INTO tasks (type) VALUES ('noop') RETURNING id::text AS id`)).rows[0]?.id as string;
      const fact = await g.createNode('fact', undefined, { text: 'The dojo rent dispute split the karate club into two factions' });
      await g.createNode('fact', undefined, { text: 'Unrelated gardening note about tomatoes' });
      await g.addEdge('task__owned_by__agent', id, 'karate-0');
      await g.addEdge('task__reads__fact', id, fact.ext_id);
      const r = await g.ragQuery({ query: 'dojo dispute', k: 2, topk: 5 });
      assert.deepEqual(
        r.seeds.map((s) => s.node_id),
        [fact.node_id],
      );
      assert.equal(r.start_debug.sources.query, 1);
      assert.equal(r.neighbors.length, 5);
      const f = r.facts.find((x) => x.fact_id === fact.ext_id);
      assert.ok(f, 'the seed fact is attached');
      assert.match(f.snippet, /<b>dojo<\/b>/i);
      assert.ok(!r.facts.some((x) => /tomatoes/.test(x.snippet)));
      const none = await g.ragQuery({ query: 'xylophone quasar' });
      assert.equal(none.neighbors.length, 0);
      await assert.rejects(g.ragQuery({}), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
    });

    it('a worker runs graph_embed tasks created by create_graph_embed_task_v2', async () => {
      const seed = node.get('33') as number;
      const created = await t.db.query<{ id: string }>('SELECT create_graph_embed_task_v2(ARRAY[$1]::bigint[], 1)::text AS id', [seed]);
      const taskId = created.rows[0]?.id as string;
      const d = new Dispatcher(t.db, { handlers: builtinHandlers(t.db), types: ['graph_embed'], pollIntervalMs: 50, listen: false });
      await d.start();
      try {
        const row = await waitFor(
          'the graph_embed task to end',
          async () => {
            const r = (
              await t.db.query<{ status: string; result: Record<string, unknown> | null }>('SELECT status::text AS status, result FROM tasks WHERE id = $1', [
                taskId,
              ])
            ).rows[0];
            return r?.status === 'completed' || r?.status === 'failed' ? r : undefined;
          },
          20_000,
          50,
        );
        assert.equal(row?.status, 'completed', JSON.stringify(row));
        assert.equal(row?.result?.embedding_count, 1 + karate.degree('33'));
        assert.equal(row?.result?.k, 1);
      } finally {
        await d.stop({ graceMs: 0 });
      }
    });
  });
}
