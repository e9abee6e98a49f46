/**
 * Export the graph for GNN tooling.
 *   dgl:      a DGL CSVDataset folder (meta.yaml + nodes_<type>.csv + edges_<src>__<rel>__<dst>.csv),
 *             loadable with dgl.data.CSVDataset(dir) or, without DGL, with pandas (ids are
 *             already contiguous per type).
 *   edgelist: one CSV of hgnn_edges (src_node_id, dst_node_id, edge_type).
 * Rows stream from a server-side cursor (DECLARE … FETCH, inside one read transaction, on
 * both backends) to file write streams, so memory holds one batch plus the node-index map.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Db, Tx } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { EDGE_DEFS, NODE_TYPES, type NodeType } from './schema.js';

export interface ExportOptions {
  /** Rows per FETCH. @defaultValue 20000 */
  batchSize?: number;
  /** Called as rows are written, with (rows done, rows total). */
  onProgress?: (done: number, total: number) => void;
}

export interface DglExportResult {
  dir: string;
  node_files: Array<{ file: string; ntype: NodeType; rows: number; with_embedding: number }>;
  edge_files: Array<{ file: string; etype: [string, string, string]; rows: number }>;
  ms: number;
}

/** A write stream that honours back-pressure. */
class Out {
  private readonly s: WriteStream;
  private buf: string[] = [];
  private size = 0;
  constructor(path: string) {
    this.s = createWriteStream(path, { encoding: 'utf8' });
  }
  async write(line: string): Promise<void> {
    this.buf.push(line);
    this.size += line.length;
    if (this.size > 1 << 20) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const chunk = this.buf.join('');
    this.buf = [];
    this.size = 0;
    if (!this.s.write(chunk)) await new Promise<void>((resolve) => this.s.once('drain', resolve));
  }
  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => this.s.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}

async function* cursor<R extends object>(tx: Tx, name: string, sql: string, params: unknown[], batch: number): AsyncGenerator<R[]> {
  await tx.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, params);
  for (;;) {
    const r = await tx.query<R>(`FETCH ${batch} FROM ${name}`);
    if (r.rows.length === 0) break;
    yield r.rows;
    if (r.rows.length < batch) break;
  }
  await tx.query(`CLOSE ${name}`);
}

async function totals(tx: Tx): Promise<{ nodes: Map<string, number>; edges: Map<string, number> }> {
  const n = await tx.query<{ node_type: string; n: number | string }>('SELECT node_type, count(*) AS n FROM graph_node_map GROUP BY node_type');
  const e = await tx.query<{ edge_type: string; n: number | string }>(
    EDGE_DEFS.map((d) => `SELECT '${d.name}' AS edge_type, count(*) AS n FROM ${d.table}`).join(' UNION ALL '),
  );
  return { nodes: new Map(n.rows.map((r) => [r.node_type, Number(r.n)])), edges: new Map(e.rows.map((r) => [r.edge_type, Number(r.n)])) };
}

/** Write a DGL CSVDataset of the whole graph into `dir` (created if needed). */
export async function exportDgl(db: Db, dir: string, options: ExportOptions = {}): Promise<DglExportResult> {
  if (typeof dir !== 'string' || dir === '') throw invalidInput('an output directory is required');
  const batch = options.batchSize ?? 20000;
  const t0 = performance.now();
  mkdirSync(dir, { recursive: true });
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY').catch(() => undefined);
    const t = await totals(tx);
    const total = [...t.nodes.values(), ...t.edges.values()].reduce((a, b) => a + b, 0);
    let done = 0;
    options.onProgress?.(0, total);
    // Global id (exact, as text) → index within its type.
    const index = new Map<string, number>();
    const nodeFiles: DglExportResult['node_files'] = [];
    for (const ntype of NODE_TYPES) {
      if (!t.nodes.get(ntype)) continue;
      const file = `nodes_${ntype}.csv`;
      const out = new Out(join(dir, file));
      await out.write('node_id,global_id,has_feat,feat\n');
      let i = 0;
      let withEmb = 0;
      const zero = `"${new Array<string>(128).fill('0').join(',')}"`;
      for await (const rows of cursor<{ id: string; emb: string | null }>(
        tx,
        'seedcore_nodes',
        `SELECT m.node_id::text AS id, e.emb::text AS emb FROM graph_node_map m LEFT JOIN graph_embeddings e ON e.node_id = m.node_id
          WHERE m.node_type = $1 ORDER BY m.node_id`,
        [ntype],
        batch,
      )) {
        const lines: string[] = [];
        for (const r of rows) {
          index.set(r.id, i);
          // DGL parses a quoted comma list into a float vector; missing values are not
          // allowed, so nodes without an embedding get zeros and has_feat = 0.
          if (r.emb) withEmb++;
          lines.push(`${i},${r.id},${r.emb ? 1 : 0},${r.emb ? `"${r.emb.slice(1, -1)}"` : zero}\n`);
          i++;
        }
        await out.write(lines.join(''));
        done += rows.length;
        options.onProgress?.(done, total);
      }
      await out.close();
      nodeFiles.push({ file, ntype, rows: i, with_embedding: withEmb });
    }
    const edgeFiles: DglExportResult['edge_files'] = [];
    for (const def of EDGE_DEFS) {
      if (!t.edges.get(def.name)) continue;
      const file = `edges_${def.name}.csv`;
      const out = new Out(join(dir, file));
      await out.write('src_id,dst_id\n');
      let n = 0;
      for await (const rows of cursor<{ s: string; d: string }>(
        tx,
        'seedcore_edges',
        'SELECT src_node_id::text AS s, dst_node_id::text AS d FROM hgnn_edges WHERE edge_type = $1',
        [def.name],
        batch,
      )) {
        let chunk = '';
        for (const r of rows) chunk += `${index.get(r.s)},${index.get(r.d)}\n`;
        n += rows.length;
        await out.write(chunk);
        done += rows.length;
        options.onProgress?.(done, total);
      }
      await out.close();
      edgeFiles.push({ file, etype: [def.srcType, def.relation, def.dstType], rows: n });
    }
    const meta = [
      'dataset_name: seedcore',
      'version: 1.0.0',
      'separator: ","',
      'node_data:',
      ...nodeFiles.flatMap((f) => [`- file_name: ${f.file}`, `  ntype: ${f.ntype}`]),
      'edge_data:',
      ...edgeFiles.flatMap((f) => [`- file_name: ${f.file}`, `  etype: [${f.etype.join(', ')}]`]),
      '',
    ].join('\n');
    const m = new Out(join(dir, 'meta.yaml'));
    await m.write(meta);
    await m.close();
    return { dir, node_files: nodeFiles, edge_files: edgeFiles, ms: performance.now() - t0 };
  });
}

/** Write hgnn_edges as CSV (src_node_id,dst_node_id,edge_type) to `file`. */
export async function exportEdgeList(db: Db, file: string, options: ExportOptions = {}): Promise<{ file: string; rows: number; ms: number }> {
  if (typeof file !== 'string' || file === '') throw invalidInput('an output file is required');
  const batch = options.batchSize ?? 20000;
  const t0 = performance.now();
  return db.transaction(async (tx) => {
    const t = await totals(tx);
    const total = [...t.edges.values()].reduce((a, b) => a + b, 0);
    const out = new Out(file);
    await out.write('src_node_id,dst_node_id,edge_type\n');
    let n = 0;
    options.onProgress?.(0, total);
    for await (const rows of cursor<{ s: string; d: string; t: string }>(
      tx,
      'seedcore_edgelist',
      'SELECT src_node_id::text AS s, dst_node_id::text AS d, edge_type AS t FROM hgnn_edges',
      [],
      batch,
    )) {
      let chunk = '';
      for (const r of rows) chunk += `${r.s},${r.d},${r.t}\n`;
      await out.write(chunk);
      n += rows.length;
      options.onProgress?.(n, total);
    }
    await out.close();
    return { file, rows: n, ms: performance.now() - t0 };
  });
}
