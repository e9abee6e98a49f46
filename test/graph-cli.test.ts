import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../src/db/types.js';
import { createGraphApi } from '../src/graph/index.js';
import { BACKENDS } from './helpers/db.js';
import { cliDatabase, runCli, type CliDatabase, type CliResult } from './helpers/cli.js';

for (const kind of BACKENDS) {
  describe(`graph and embeddings CLI (${kind})`, () => {
    let d: CliDatabase | undefined;
    let target: string[];
    let a1 = 0;
    const dir = mkdtempSync(join(tmpdir(), 'seedcore-graph-cli-'));
    // The graph is built through the library (each CLI start on PGlite costs seconds); the
    // CLI is exercised where it adds behaviour of its own: embed, knn --json, errors, reindex, export.
    const build = async (db: Db): Promise<void> => {
      const g = createGraphApi(db);
      for (const id of ['a1', 'a2', 'a3']) await g.createNode('agent', id);
      await g.addEdge('agent__collab__agent', 'a1', 'a2');
      await g.addEdge('agent__collab__agent', 'a2', 'a3');
      a1 = (await g.resolveNode({ type: 'agent', id: 'a1' })).node_id;
    };
    before(async () => {
      d = await cliDatabase(kind, build);
      target = d.target;
    });
    after(async () => {
      await d?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });
    const cli = (...args: string[]): Promise<CliResult> => runCli([...target, ...args]);

    it('embeds the graph and answers knn --json with node ids; bad input exits 2, a missing endpoint 4', async () => {
      const bad = await cli('--json', 'graph', 'edge', 'add', 'agent__hates__agent', 'a1', 'a3');
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /SEEDCORE_INVALID_INPUT/);
      const missing = await cli('graph', 'edge', 'add', 'agent__collab__agent', 'a1', 'nobody');
      assert.equal(missing.code, 4);
      const embed = await cli('--json', 'graph', 'embed', '--all');
      assert.equal(embed.code, 0, embed.stderr);
      assert.equal((JSON.parse(embed.stdout) as { embedded: number }).embedded, 3);
      const knn = await cli('--json', 'embeddings', 'knn', '--node-id', String(a1), '--k', '2', '--type', 'agent');
      assert.equal(knn.code, 0, knn.stderr);
      const rows = JSON.parse(knn.stdout) as Array<{ node_id: number; node_type: string; ext_id: string; distance: number }>;
      assert.ok(Array.isArray(rows) && rows.length === 2);
      assert.ok(rows.every((r) => typeof r.node_id === 'number' && r.node_type === 'agent' && r.node_id !== a1));
    });

    it('reindexes and exports', async () => {
      const re = await cli('--json', 'embeddings', 'reindex', '--method', 'ivfflat');
      assert.equal(re.code, 0, re.stderr);
      const r = JSON.parse(re.stdout) as { method: string; rows: number; lists: number; probes: number; database_defaults: boolean };
      assert.deepEqual([r.method, r.rows, r.lists, r.probes], ['ivfflat', 3, 1, 1]);
      assert.equal(r.database_defaults, true);
      const out = join(dir, 'dgl');
      assert.equal((await cli('graph', 'export', '--format', 'dgl', '--out', out)).code, 0);
      assert.match(readFileSync(join(out, 'meta.yaml'), 'utf8'), /etype: \[agent, collab, agent\]/);
      assert.equal(readFileSync(join(out, 'edges_agent__collab__agent.csv'), 'utf8'), 'src_id,dst_id\n0,1\n1,2\n');
      assert.match(readFileSync(join(out, 'nodes_agent.csv'), 'utf8'), /^node_id,global_id,has_feat,feat\n0,\d+,1,"/);
      const el = join(dir, 'edges.csv');
      assert.equal((await cli('graph', 'export', '--format', 'edgelist', '--out', el)).code, 0);
      assert.equal(readFileSync(el, 'utf8').trim().split('\n').length, 3);
    });
  });
}
