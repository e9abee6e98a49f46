import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addFact, createTaskFacts, getFactProvenance } from '../src/facts/index.js';
import { exportDgl } from '../src/graph/export.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

/** A running task owned by `agent` and executed by `organ` (the edges ctx.facts reads its sources from). */
async function task(s: TestServer, agent: string, organ: string): Promise<string> {
  const db = s.core.db;
  const r = await db.query<{ id: string }>("INSERT INTO tasks (type, status) VALUES ('derive', 'running') RETURNING id::text AS id");
  const id = (r.rows[0] as { id: string }).id;
  await db.query('INSERT INTO agent_registry (agent_id) VALUES ($1) ON CONFLICT DO NOTHING', [agent]);
  await db.query('INSERT INTO organ_registry (organ_id, agent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [organ, agent]);
  await db.query('INSERT INTO task_owned_by_agent (task_id, agent_id) VALUES ($1, $2)', [id, agent]);
  await db.query('INSERT INTO task_executed_by_organ (task_id, organ_id) VALUES ($1, $2)', [id, organ]);
  return id;
}

for (const kind of BACKENDS) {
  describe(`facts provenance (${kind})`, () => {
    let s: TestServer;
    const ids: Record<string, string> = {};
    const tasks: string[] = [];
    before(async () => {
      s = await testServer(kind);
      const db = s.core.db;
      // f0 comes from outside; three tasks derive f1 from f0, f2 from f1, f3 from f2.
      ids.f0 = (
        await addFact(db, {
          text: 'Tide gauges at the harbour read 2.1 m at noon',
          sources: [{ kind: 'uri', ref: 'https://tides.example.org/harbour/2026-12-01' }],
          confidence: 0.9,
        })
      ).id;
      let parent = ids.f0;
      for (const [i, text] of ['High tide is near noon', 'The ferry can leave at noon', 'Book the noon ferry'].entries()) {
        const taskId = await task(s, `agent-${i + 1}`, `organ-${i + 1}`);
        tasks.push(taskId);
        const ctxFacts = createTaskFacts(db, taskId);
        await ctxFacts.read([parent]);
        const made = await ctxFacts.produce({ text, derivedFrom: [parent], confidence: [0.8, 0.7, 0.6][i] as number });
        ids[`f${i + 1}`] = made.id;
        parent = made.id;
      }
      // Something contradicts the middle step.
      await s.core.db.query("UPDATE facts SET subject = 'ferry', predicate = 'departure', object = 'noon' WHERE id = $1", [ids.f2]);
      ids.rival = (await addFact(db, { text: 'The ferry leaves at one', subject: 'ferry', predicate: 'departure', object: '13:00' })).id;
    });
    after(async () => {
      await s.close();
    });

    it('returns the chain three hops back, each step with its task, agent and organ as sources, and what contradicts it', async () => {
      const p = await getFactProvenance(s.core.db, ids.f3 as string);
      assert.equal(p.fact.id, ids.f3);
      assert.deepEqual(
        p.sources.map((x) => `${x.kind}:${x.ref}`),
        [`task:${tasks[2]}`, 'agent:agent-3', 'organ:organ-3'],
      );
      assert.deepEqual(
        p.derived_from.map((x) => [x.fact.id, x.depth, x.via]),
        [
          [ids.f2, 1, ids.f3],
          [ids.f1, 2, ids.f2],
          [ids.f0, 3, ids.f1],
        ],
      );
      assert.deepEqual(
        p.derived_from.map((x) => x.sources.map((y) => `${y.kind}:${y.ref}`)),
        [
          [`task:${tasks[1]}`, 'agent:agent-2', 'organ:organ-2'],
          [`task:${tasks[0]}`, 'agent:agent-1', 'organ:organ-1'],
          ['uri:https://tides.example.org/harbour/2026-12-01'],
        ],
      );
      assert.deepEqual(
        p.derived_from.map((x) => x.fact.confidence),
        [0.7, 0.8, 0.9],
      );
      assert.deepEqual(
        p.derived_from.map((x) => x.open_conflicts),
        [1, 0, 0],
      );
      assert.equal(p.truncated, false);
      const mid = await getFactProvenance(s.core.db, ids.f2 as string);
      assert.equal(mid.conflicts.length, 1);
      assert.equal(mid.conflicts[0]?.other_fact_id, ids.f2);
      assert.deepEqual(mid.derived_by, [ids.f3]);
      assert.equal(mid.previous_versions, 1, 'the UPDATE that gave it a subject kept a version');
      const short = await getFactProvenance(s.core.db, ids.f3 as string, { depth: 2 });
      assert.deepEqual(
        short.derived_from.map((x) => x.fact.id),
        [ids.f2, ids.f1],
      );
      assert.equal(short.truncated, true);
    });

    it('GET /api/facts/:id/provenance answers the same in one call; bad depth and unknown parameters are 400', async () => {
      const r = await s.app.inject(`/api/facts/${ids.f3}/provenance?depth=3`);
      assert.equal(r.statusCode, 200);
      const body = r.json() as { derived_from: Array<{ fact: { id: string; valid_from: string }; sources: Array<{ kind: string }> }>; sources: unknown[] };
      assert.deepEqual(
        body.derived_from.map((x) => x.fact.id),
        [ids.f2, ids.f1, ids.f0],
      );
      assert.ok(body.derived_from.every((x) => !Number.isNaN(Date.parse(x.fact.valid_from))));
      assert.equal(body.sources.length, 3);
      for (const url of [`/api/facts/${ids.f3}/provenance?depth=0`, `/api/facts/${ids.f3}/provenance?deep=1`]) {
        const bad = await s.app.inject(url);
        assert.equal(bad.statusCode, 400, url);
        assert.equal((bad.json() as { error: { code: string } }).error.code, 'SEEDCORE_INVALID_INPUT');
      }
      assert.equal((await s.app.inject('/api/facts/00000000-0000-4000-8000-00000000beef/provenance')).statusCode, 404);
    });

    it('derives_from edges are in hgnn_edges and in the DGL export', async () => {
      const db = s.core.db;
      const r = await db.query<{ src: string; dst: string }>(
        `SELECT s.ext_uuid::text AS src, d.ext_uuid::text AS dst FROM hgnn_edges e
           JOIN graph_node_map s ON s.node_id = e.src_node_id JOIN graph_node_map d ON d.node_id = e.dst_node_id
          WHERE e.edge_type = 'fact__derives_from__fact' ORDER BY 1`,
      );
      assert.deepEqual(r.rows.map((x) => `${x.src}>${x.dst}`).sort(), [`${ids.f1}>${ids.f0}`, `${ids.f2}>${ids.f1}`, `${ids.f3}>${ids.f2}`].sort());
      const dir = mkdtempSync(join(tmpdir(), 'seedcore-facts-dgl-'));
      try {
        const out = await exportDgl(db, dir);
        const f = out.edge_files.find((e) => e.file === 'edges_fact__derives_from__fact.csv');
        assert.ok(f, 'an edge file for the new type');
        assert.deepEqual(f.etype, ['fact', 'derives_from', 'fact']);
        assert.equal(f.rows, 3);
        assert.match(readFileSync(join(dir, 'meta.yaml'), 'utf8'), /etype: \[fact, derives_from, fact\]/);
        const factNodes = readFileSync(join(dir, 'nodes_fact.csv'), 'utf8').trim().split('\n').slice(1);
        const local = new Map(factNodes.map((l) => [l.split(',')[1], l.split(',')[0]]));
        const edges = readFileSync(join(dir, f.file), 'utf8').trim().split('\n').slice(1);
        const nodeOf = async (id: string) =>
          String((await db.query<{ n: string }>("SELECT node_id::text AS n FROM graph_node_map WHERE node_type = 'fact' AND ext_uuid = $1", [id])).rows[0]?.n);
        const want = `${local.get(await nodeOf(ids.f1 as string))},${local.get(await nodeOf(ids.f0 as string))}`;
        assert.ok(edges.includes(want), `${want} in ${edges.join(' ')}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
