import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../src/db/types.js';
import { isSeedCoreError } from '../src/errors.js';
import { createGraphApi, EDGE_DEFS, NODE_TYPES, type GraphApi } from '../src/graph/index.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

async function newTask(db: Db): Promise<string> {
  const r = await db.query<{ id: string }>(`INSERT INTO tasks (type, params) VALUES ('noop', '{}') RETURNING id::text AS id`);
  return r.rows[0]?.id as string;
}

/** One entity of every node type (two tasks, two agents) and one edge of every edge type. */
async function buildFixture(db: Db, g: GraphApi): Promise<Record<string, string>> {
  const id: Record<string, string> = {};
  id.task = await newTask(db);
  id.task2 = await newTask(db);
  await g.createNode('task', id.task);
  id.agent = (await g.createNode('agent', 'agent-1', { display_name: 'Agent one', props: { tier: 1 } })).ext_id;
  id.agent2 = (await g.createNode('agent', 'agent-2')).ext_id;
  id.organ = (await g.createNode('organ', 'organ-1', { kind: 'retriever', agent_id: 'agent-1' })).ext_id;
  id.artifact = (await g.createNode('artifact', undefined, { uri: 's3://bucket/x', kind: 's3' })).ext_id;
  id.capability = (await g.createNode('capability', undefined, { name: 'summarize' })).ext_id;
  id.memory_cell = (await g.createNode('memory_cell', undefined, { scope: 'global', mkey: 'k1' })).ext_id;
  id.fact = (await g.createNode('fact', undefined, { text: 'Graph fixtures make tests honest', tags: ['test'] })).ext_id;
  id.fact2 = (await g.createNode('fact', undefined, { text: 'Honest tests need fixtures', tags: ['test'] })).ext_id;
  id.model = (await g.createNode('model', 'gpt-x', { meta: { ctx: 8192 } })).ext_id;
  id.policy = (await g.createNode('policy', 'pii')).ext_id;
  id.service = (await g.createNode('service', 'search-api')).ext_id;
  id.skill = (await g.createNode('skill', 'sql')).ext_id;
  for (const e of EDGE_DEFS) {
    const src = e.srcType === 'task' ? id.task : e.srcType === 'agent' ? id.agent : (id[e.srcType] as string);
    const dst =
      e.dstType === 'task'
        ? id.task2
        : e.dstType === 'agent' && e.srcType === 'agent'
          ? id.agent2
          : e.dstType === 'fact' && e.srcType === 'fact'
            ? id.fact2
            : (id[e.dstType] as string);
    const r = await g.addEdge(e.name, src as string, dst as string);
    assert.equal(r.created, true, e.name);
  }
  return id;
}

for (const kind of BACKENDS) {
  describe(`graph API (${kind})`, () => {
    let t: TestDb;
    let g: GraphApi;
    let id: Record<string, string>;
    before(async () => {
      t = await freshDb(kind);
      g = createGraphApi(t.db);
      id = await buildFixture(t.db, g);
    });
    after(async () => {
      await t.cleanup();
    });

    it('counts one node per type (two tasks, agents and facts) and one edge per edge type', async () => {
      const c = await g.counts();
      for (const type of NODE_TYPES) assert.equal(c.nodes[type], type === 'task' || type === 'agent' || type === 'fact' ? 2 : 1, type);
      assert.equal(Object.keys(c.edges).length, 18);
      for (const e of EDGE_DEFS) assert.equal(c.edges[e.name], 1, e.name);
      const view = await t.db.query<{ edge_type: string }>('SELECT DISTINCT edge_type FROM hgnn_edges');
      assert.equal(view.rows.length, 18);
    });

    it('rejects unknown edge types and endpoints, writing nothing', async () => {
      const before = await g.counts();
      await assert.rejects(
        g.addEdge('agent__likes__agent', 'agent-1', 'agent-2'),
        (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT') && /unknown edge type/.test(e.message),
      );
      await assert.rejects(
        g.addEdge('agent__uses__model', 'agent-1', 'no-such-model'),
        (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND') && /no-such-model/.test(e.message),
      );
      await assert.rejects(g.addEdge('agent__uses__model', 'ghost-agent', 'gpt-x'), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
      await assert.rejects(g.addEdge('task__reads__fact', 'not-a-uuid', id.fact as string), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      const modelNode = await g.resolveNode({ type: 'model', id: 'gpt-x' });
      await assert.rejects(
        g.addEdge('agent__collab__agent', 'agent-1', { nodeId: modelNode.node_id }),
        (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT') && /is a model/.test(e.message),
      );
      await assert.rejects(g.createNode('planet', 'x'), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      await assert.rejects(g.createNode('artifact', undefined, {}), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT') && /uri/.test(e.message));
      await assert.rejects(
        g.createNode('agent', 'agent-9', { colour: 'red' }),
        (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT') && /colour/.test(e.message),
      );
      await assert.rejects(g.createNode('task', '00000000-0000-4000-8000-000000000000'), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
      await assert.rejects(g.createNode('agent', 'agent-1'), (e) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'));
      assert.deepEqual(await g.counts(), before);
    });

    it('updates, reads and deletes entities; deletion removes the node, its edges and its embedding', async () => {
      const n = await g.updateNode('agent', 'agent-2', { display_name: 'Two' });
      const got = await g.getNode({ nodeId: n.node_id });
      assert.equal(got?.attributes.display_name, 'Two');
      await assert.rejects(g.updateNode('agent', 'nobody', { display_name: 'x' }), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
      // A capability used by a task is protected by ON DELETE RESTRICT.
      await assert.rejects(g.deleteNode('capability', id.capability as string), (e) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'));
      const temp = await g.createNode('skill', 'temp-skill');
      await g.addEdge('organ__provides__skill', 'organ-1', 'temp-skill');
      const vec = Array.from({ length: 128 }, (_, i) => i / 128);
      await t.db.query('INSERT INTO graph_embeddings (node_id, emb) VALUES ($1, $2::vector)', [temp.node_id, `[${vec.join(',')}]`]);
      assert.equal(await g.deleteNode('skill', 'temp-skill'), true);
      assert.equal(await g.deleteNode('skill', 'temp-skill'), false);
      assert.equal(await g.getNode({ nodeId: temp.node_id }), undefined);
      const left = await t.db.query('SELECT 1 FROM graph_embeddings WHERE node_id = $1', [temp.node_id]);
      assert.equal(left.rowCount, 0);
      const edges = await g.counts();
      assert.equal(edges.edges.organ__provides__skill, 1);
    });

    it('walks neighbours by hops, direction, edge type and limit', async () => {
      const one = await g.neighbors({ type: 'agent', id: 'agent-1' });
      const types1 = new Set(one.map((n) => n.node_type));
      for (const tpe of ['organ', 'agent', 'model', 'memory_cell', 'task']) assert.ok(types1.has(tpe as never), `1-hop has ${tpe}`);
      assert.ok(one.every((n) => n.hop === 1));
      const out = await g.neighbors({ type: 'agent', id: 'agent-1' }, { direction: 'out' });
      assert.ok(!out.some((n) => n.node_type === 'task'), 'task -> agent is an incoming edge');
      const inn = await g.neighbors({ type: 'agent', id: 'agent-1' }, { direction: 'in' });
      assert.deepEqual(
        inn.map((n) => n.node_type),
        ['task'],
      );
      const typed = await g.neighbors({ type: 'agent', id: 'agent-1' }, { edgeTypes: ['agent__uses__model'] });
      assert.deepEqual(
        typed.map((n) => n.ext_id),
        ['gpt-x'],
      );
      const two = await g.neighbors({ type: 'model', id: 'gpt-x' }, { hops: 2 });
      assert.ok(two.some((n) => n.hop === 2 && n.node_type === 'organ'));
      assert.equal(two.find((n) => n.node_type === 'organ')?.via.edge_type !== undefined, true);
      const limited = await g.neighbors({ type: 'agent', id: 'agent-1' }, { hops: 3, limit: 3 });
      assert.equal(limited.length, 3);
      await assert.rejects(g.neighbors({ type: 'agent', id: 'agent-1' }, { edgeTypes: ['nope'] }), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
    });

    it('removes edges', async () => {
      assert.equal(await g.removeEdge('agent__collab__agent', 'agent-1', 'agent-2'), true);
      assert.equal(await g.removeEdge('agent__collab__agent', 'agent-1', 'agent-2'), false);
      await g.addEdge('agent__collab__agent', 'agent-1', 'agent-2');
    });

    it('exports a DGL CSVDataset in which every edge type round-trips to hgnn_edges', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'seedcore-dgl-'));
      try {
        const r = await g.exportDgl(dir, { batchSize: 3 }); // tiny batches exercise the cursor loop
        const meta = readFileSync(join(dir, 'meta.yaml'), 'utf8');
        assert.match(meta, /^version: 1\.0\.0$/m);
        assert.equal(r.edge_files.length, 18);
        // Per type: node_id contiguous 0..n-1, global_id → node_id.
        const local = new Map<string, Map<string, string>>(); // ntype → (node_id → global_id)
        for (const f of r.node_files) {
          assert.match(meta, new RegExp(`- file_name: ${f.file}\\n  ntype: ${f.ntype}$`, 'm'));
          const lines = readFileSync(join(dir, f.file), 'utf8').trim().split('\n');
          assert.equal(lines[0], 'node_id,global_id,has_feat,feat');
          const m = new Map<string, string>();
          lines.slice(1).forEach((line, i) => {
            const [nid, gid, has, ...feat] = line.split(',');
            assert.equal(nid, String(i));
            assert.ok(has === '0' || has === '1');
            assert.equal(feat.length, 128);
            m.set(nid as string, gid as string);
          });
          local.set(f.ntype, m);
        }
        const exported = new Set<string>();
        for (const f of r.edge_files) {
          const [st, rel, dt] = f.etype;
          assert.match(meta, new RegExp(`etype: \\[${st}, ${rel}, ${dt}\\]`));
          const lines = readFileSync(join(dir, f.file), 'utf8').trim().split('\n');
          assert.equal(lines[0], 'src_id,dst_id');
          for (const line of lines.slice(1)) {
            const [s, d] = line.split(',');
            exported.add(`${local.get(st)?.get(s as string)}|${local.get(dt)?.get(d as string)}|${st}__${rel}__${dt}`);
          }
        }
        const truth = await t.db.query<{ k: string }>(`SELECT src_node_id::text || '|' || dst_node_id::text || '|' || edge_type AS k FROM hgnn_edges`);
        assert.deepEqual([...exported].sort(), truth.rows.map((x) => x.k).sort());
        assert.equal(readdirSync(dir).filter((f) => f.startsWith('edges_')).length, 18);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('exports hgnn_edges as a plain CSV edge list', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'seedcore-el-'));
      try {
        const r = await g.exportEdgeList(join(dir, 'edges.csv'));
        const lines = readFileSync(join(dir, 'edges.csv'), 'utf8').trim().split('\n');
        assert.equal(lines[0], 'src_node_id,dst_node_id,edge_type');
        assert.equal(lines.length - 1, r.rows);
        assert.equal(new Set(lines.slice(1).map((l) => l.split(',')[2])).size, 18);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
