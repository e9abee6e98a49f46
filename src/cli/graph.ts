/** `seedcore graph …` and `seedcore embeddings …`: the knowledge graph and its vectors from the shell. */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { createEmbeddingsApi, createGraphApi, EDGE_DEFS, NODE_TYPES, type EdgeEndpoint, type NodeRef } from '../graph/index.js';
import { globalOptions, openDb, output, parseIntOption, parseJsonOption } from './context.js';

async function withDb<T>(cmd: Command, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(cmd);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** A progress bar on stderr (interactive terminals only; never with --json). */
function progressBar(cmd: Command, label: string): ((done: number, total: number) => void) & { stop(): void } {
  const show = process.stderr.isTTY && !globalOptions(cmd).json;
  const bar = show
    ? new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total}`, stream: process.stderr }, cliProgress.Presets.shades_classic)
    : undefined;
  let started = false;
  const fn = (done: number, total: number): void => {
    if (!bar) return;
    if (!started) {
      bar.start(total, done);
      started = true;
    } else bar.update(done);
  };
  return Object.assign(fn, { stop: () => (started ? bar?.stop() : undefined) });
}

/** `node:123` names a node id; anything else is an external id. */
function endpoint(s: string): EdgeEndpoint {
  return s.startsWith('node:') ? { nodeId: s.slice(5) } : s;
}

function nodeRef(type: string | undefined, id: string | undefined, nodeId: number | undefined): NodeRef {
  if (nodeId !== undefined) return { nodeId };
  if (!type || !id) throw invalidInput('give <type> <id> or --node-id');
  return { type, id };
}

const attrsOption = (v: string): Record<string, unknown> => parseJsonOption('--attrs', v) as Record<string, unknown>;

export function registerGraphCommands(program: Command): void {
  const graph = program.command('graph').description('the heterogeneous knowledge graph: nodes, edges, traversal, embedding, export');

  graph
    .command('types')
    .description('list the node types and edge types')
    .action((_o: unknown, cmd: Command) => {
      const data = { node_types: NODE_TYPES, edge_types: EDGE_DEFS.map((e) => ({ edge_type: e.name, table: e.table, src: e.srcType, dst: e.dstType })) };
      output(cmd, data, () => `node types: ${NODE_TYPES.join(', ')}\nedge types:\n${EDGE_DEFS.map((e) => `  ${e.name}`).join('\n')}`);
    });

  const node = graph.command('node').description('create, update, delete and show entities');
  node
    .command('create <type> [id]')
    .description('create an entity and its node (uuid-keyed types generate an id when none is given; task: map an existing task)')
    .option('--attrs <json>', 'attributes as a JSON object', attrsOption)
    .action(async (type: string, id: string | undefined, o: { attrs?: Record<string, unknown> }, cmd: Command) => {
      const n = await withDb(cmd, (db) => createGraphApi(db).createNode(type, id, o.attrs ?? {}));
      output(cmd, n, () => `node ${n.node_id} ${n.node_type} ${n.ext_id}`);
    });
  node
    .command('update <type> <id>')
    .description('set attributes of an entity (others are kept; null clears an optional one; exit 4 when absent)')
    .requiredOption('--attrs <json>', 'attributes to set, as a JSON object', attrsOption)
    .action(async (type: string, id: string, o: { attrs: Record<string, unknown> }, cmd: Command) => {
      const n = await withDb(cmd, (db) => createGraphApi(db).updateNode(type, id, o.attrs));
      output(cmd, n, () => `updated node ${n.node_id} ${n.node_type} ${n.ext_id}`);
    });
  node
    .command('delete <type> <id>')
    .description('delete an entity and its node (exit 4 when absent; 5 when still referenced)')
    .action(async (type: string, id: string, _o: unknown, cmd: Command) => {
      const deleted = await withDb(cmd, (db) => createGraphApi(db).deleteNode(type, id));
      output(cmd, { deleted }, () => (deleted ? 'deleted' : 'not found'));
      if (!deleted) process.exitCode = 4;
    });
  node
    .command('get [type] [id]')
    .description('show a node by type and external id, or by --node-id (exit 4 when absent)')
    .option('--node-id <n>', 'graph node id', parseIntOption('--node-id', 1))
    .action(async (type: string | undefined, id: string | undefined, o: { nodeId?: number }, cmd: Command) => {
      const n = await withDb(cmd, (db) => createGraphApi(db).getNode(nodeRef(type, id, o.nodeId)));
      output(cmd, n ?? null, () =>
        n
          ? Object.entries(n)
              .map(([k, v]) => `${k.padEnd(10)} ${v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
              .join('\n')
          : 'not found',
      );
      if (!n) process.exitCode = 4;
    });

  const edge = graph.command('edge').description('add and remove typed edges (endpoints: external ids, or node:<id>)');
  edge
    .command('add <edgeType> <src> <dst>')
    .description('add an edge of one of the edge types (`seedcore graph types` lists them)')
    .action(async (edgeType: string, src: string, dst: string, _o: unknown, cmd: Command) => {
      const e = await withDb(cmd, (db) => createGraphApi(db).addEdge(edgeType, endpoint(src), endpoint(dst)));
      output(cmd, e, () => `${e.created ? 'added' : 'exists'}: ${e.src.node_id} -[${e.edge_type}]-> ${e.dst.node_id}`);
    });
  edge
    .command('remove <edgeType> <src> <dst>')
    .description('remove an edge (exit 4 when it or an endpoint does not exist)')
    .action(async (edgeType: string, src: string, dst: string, _o: unknown, cmd: Command) => {
      const removed = await withDb(cmd, (db) => createGraphApi(db).removeEdge(edgeType, endpoint(src), endpoint(dst)));
      output(cmd, { removed }, () => (removed ? 'removed' : 'not found'));
      if (!removed) process.exitCode = 4;
    });

  graph
    .command('neighbors [type] [id]')
    .description('neighbours of a node within --hops, nearest first')
    .option('--node-id <n>', 'graph node id', parseIntOption('--node-id', 1))
    .option('--hops <n>', 'hops', parseIntOption('--hops', 1, 10), 1)
    .option('--edge-types <list>', 'comma-separated edge types to follow')
    .option('--direction <dir>', 'out, in or both', 'both')
    .option('--limit <n>', 'max neighbours', parseIntOption('--limit', 1, 100000), 100)
    .action(
      async (
        type: string | undefined,
        id: string | undefined,
        o: { nodeId?: number; hops: number; edgeTypes?: string; direction: string; limit: number },
        cmd: Command,
      ) => {
        const rows = await withDb(cmd, (db) =>
          createGraphApi(db).neighbors(nodeRef(type, id, o.nodeId), {
            hops: o.hops,
            limit: o.limit,
            direction: o.direction as 'out' | 'in' | 'both',
            ...(o.edgeTypes ? { edgeTypes: o.edgeTypes.split(',') } : {}),
          }),
        );
        output(cmd, rows, () =>
          rows.length === 0
            ? '(none)'
            : ['hop  node_id  node_type  ext_id  via', ...rows.map((r) => `${r.hop}  ${r.node_id}  ${r.node_type}  ${r.ext_id}  ${r.via.edge_type}`)].join(
                '\n',
              ),
        );
      },
    );

  graph
    .command('counts')
    .description('nodes per type, edges per type, embeddings')
    .action(async (_o: unknown, cmd: Command) => {
      const c = await withDb(cmd, (db) => createGraphApi(db).counts());
      output(cmd, c, () =>
        [
          ...Object.entries(c.nodes).map(([t, n]) => `node ${t.padEnd(40)} ${n}`),
          ...Object.entries(c.edges).map(([t, n]) => `edge ${t.padEnd(40)} ${n}`),
          `embeddings ${c.embeddings}`,
        ].join('\n'),
      );
    });

  graph
    .command('embed')
    .description('FastRP-embed the k-hop neighbourhood of start nodes, or the whole graph with --all')
    .option('--all', 're-embed every node of the graph')
    .option('--start-ids <ids>', 'comma-separated node ids')
    .option('--params <json>', 'graph_embed params, e.g. {"start_agent_ids":["a1"],"k":2}')
    .option('--k <n>', 'hops', parseIntOption('--k', 1, 10))
    .action(async (o: { all?: boolean; startIds?: string; params?: string; k?: number }, cmd: Command) => {
      await withDb(cmd, async (db) => {
        const api = createGraphApi(db);
        if (o.all) {
          const bar = progressBar(cmd, 'embedding');
          try {
            const r = await api.embedAll({ onProgress: bar });
            bar.stop();
            output(cmd, r, () => `embedded ${r.embedded} nodes (${r.edge_count} edges) in ${Math.round(r.total_ms)} ms`);
          } finally {
            bar.stop();
          }
          return;
        }
        const params = o.params ? (parseJsonOption('--params', o.params) as Record<string, unknown>) : {};
        if (o.startIds) params.start_ids = o.startIds.split(',').map((s) => s.trim());
        if (o.k !== undefined) params.k = o.k;
        const r = await api.embed(params);
        output(cmd, r, () => `embedded ${r.embedded} nodes around ${r.start_node_count} start node(s), k=${r.k}`);
      });
    });

  graph
    .command('rag')
    .description('graph RAG retrieval (graph_rag_query params: start_ids, start_<type>_ids, query, k, topk)')
    .requiredOption('--params <json>', 'params as JSON')
    .action(async (o: { params: string }, cmd: Command) => {
      const params = parseJsonOption('--params', o.params) as Record<string, unknown>;
      const r = await withDb(cmd, (db) => createGraphApi(db).ragQuery(params));
      output(
        cmd,
        r,
        () => r.neighbors.map((n) => `${n.score.toFixed(4)} ${n.node_id} ${n.node_type} ${n.ext_id} (${n.provenance.kind})`).join('\n') || '(no results)',
      );
    });

  graph
    .command('export')
    .description('export for GNN tooling: a DGL CSVDataset folder (--format dgl) or a CSV edge list')
    .option('--format <f>', 'dgl or edgelist', 'dgl')
    .requiredOption('--out <path>', 'output directory (dgl) or file (edgelist)')
    .action(async (o: { format: string; out: string }, cmd: Command) => {
      if (o.format !== 'dgl' && o.format !== 'edgelist') throw invalidInput("--format must be 'dgl' or 'edgelist'");
      await withDb(cmd, async (db) => {
        const bar = progressBar(cmd, 'exporting');
        try {
          const api = createGraphApi(db);
          if (o.format === 'dgl') {
            const r = await api.exportDgl(o.out, { onProgress: bar });
            bar.stop();
            output(cmd, r, () => `wrote ${r.node_files.length} node files and ${r.edge_files.length} edge files to ${r.dir} in ${Math.round(r.ms)} ms`);
          } else {
            const r = await api.exportEdgeList(o.out, { onProgress: bar });
            bar.stop();
            output(cmd, r, () => `wrote ${r.rows} edges to ${r.file} in ${Math.round(r.ms)} ms`);
          }
        } finally {
          bar.stop();
        }
      });
    });

  registerEmbeddingCommands(program);
}

function registerEmbeddingCommands(program: Command): void {
  const emb = program.command('embeddings').description('128-d node embeddings: upsert, get, delete, kNN search, ANN index');
  emb
    .command('upsert')
    .description('store the 128-d embedding of a node (exactly 128 finite numbers)')
    .requiredOption('--node-id <n>', 'graph node id', parseIntOption('--node-id', 1))
    .requiredOption('--vector <json>', 'JSON array of 128 numbers')
    .option('--label <label>', 'label')
    .action(async (o: { nodeId: number; vector: string; label?: string }, cmd: Command) => {
      const vector = parseJsonOption('--vector', o.vector) as number[];
      const n = await withDb(cmd, (db) => createEmbeddingsApi(db).upsert([{ nodeId: o.nodeId, vector, ...(o.label ? { label: o.label } : {}) }]));
      output(cmd, { upserted: n }, () => `upserted ${n}`);
    });
  emb
    .command('get <nodeId>')
    .description('show the embedding of a node (exit 4 when absent)')
    .action(async (nodeId: string, _o: unknown, cmd: Command) => {
      const e = await withDb(cmd, (db) => createEmbeddingsApi(db).get(nodeId));
      output(cmd, e ?? null, () =>
        e
          ? [
              `node_id    ${e.node_id}`,
              `label      ${e.label ?? '-'}`,
              `props      ${e.props ? JSON.stringify(e.props) : '-'}`,
              `updated_at ${String(e.updated_at)}`,
              `vector     [${e.vector.map((x) => x.toFixed(4)).join(', ')}] (${e.vector.length} dimensions)`,
            ].join('\n')
          : 'not found',
      );
      if (!e) process.exitCode = 4;
    });
  emb
    .command('delete <nodeIds...>')
    .description('delete the embeddings of these nodes')
    .action(async (nodeIds: string[], _o: unknown, cmd: Command) => {
      const n = await withDb(cmd, (db) => createEmbeddingsApi(db).delete(nodeIds));
      output(cmd, { deleted: n }, () => `deleted ${n}`);
    });
  emb
    .command('knn')
    .description('k nearest neighbours (L2) of a vector or of a node’s embedding')
    .option('--vector <json>', 'JSON array of 128 numbers')
    .option('--node-id <n>', 'search around this node’s embedding', parseIntOption('--node-id', 1))
    .option('--k <n>', 'results', parseIntOption('--k', 1, 10000), 10)
    .option('--type <t>', 'only nodes of this type')
    .action(async (o: { vector?: string; nodeId?: number; k: number; type?: string }, cmd: Command) => {
      if ((o.vector === undefined) === (o.nodeId === undefined)) throw invalidInput('give exactly one of --vector or --node-id');
      const query = o.vector !== undefined ? { vector: parseJsonOption('--vector', o.vector) as number[] } : { nodeId: o.nodeId as number };
      const rows = await withDb(cmd, (db) => createEmbeddingsApi(db).knn(query, { k: o.k, ...(o.type ? { type: o.type } : {}) }));
      output(cmd, rows, () => rows.map((r) => `${r.distance.toFixed(6)} ${r.node_id} ${r.node_type} ${r.ext_id}`).join('\n') || '(none)');
    });
  emb
    .command('reindex')
    .description('rebuild the ANN index with parameters from the row count and set database search defaults')
    .option('--method <m>', 'ivfflat or hnsw (default: keep the current method)')
    .option('--lists <n>', 'IVFFlat lists', parseIntOption('--lists', 1, 32768))
    .option('--probes <n>', 'IVFFlat probes', parseIntOption('--probes', 1, 32768))
    .option('--m <n>', 'HNSW m', parseIntOption('--m', 2, 100))
    .option('--ef-construction <n>', 'HNSW ef_construction', parseIntOption('--ef-construction', 4, 1000))
    .option('--ef-search <n>', 'HNSW ef_search', parseIntOption('--ef-search', 1, 1000))
    .action(
      async (o: { method?: 'ivfflat' | 'hnsw'; lists?: number; probes?: number; m?: number; efConstruction?: number; efSearch?: number }, cmd: Command) => {
        const r = await withDb(cmd, (db) => createEmbeddingsApi(db).reindex(o));
        output(cmd, r, () =>
          [
            `rebuilt ${r.method} on ${r.rows} rows in ${Math.round(r.ms)} ms`,
            ...Object.entries(r)
              .filter(([k]) => !['method', 'rows', 'ms'].includes(k))
              .map(([k, v]) => `  ${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`),
          ].join('\n'),
        );
      },
    );
  emb
    .command('index')
    .description('show the ANN index and its search settings')
    .action(async (_o: unknown, cmd: Command) => {
      const r = await withDb(cmd, (db) => createEmbeddingsApi(db).indexInfo());
      output(cmd, r, () =>
        Object.entries(r)
          .map(([k, v]) => `${k.padEnd(17)} ${String(v)}`)
          .join('\n'),
      );
    });
}
