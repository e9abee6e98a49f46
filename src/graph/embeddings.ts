/**
 * graph_embeddings: upsert, get, delete and k-nearest-neighbour search (L2 distance).
 * Vectors travel as the text form '[x,y,…]' cast with ::vector, because PGlite cannot bind
 * JS arrays to vector parameters.
 */
import type { Db, Queryable } from '../db/types.js';
import { invalidInput, notFound } from '../errors.js';
import { cachedIndexInfo, maybeReindex } from './ann-index.js';
import { checkNodeId, type GraphNode } from './nodes.js';
import { EMBEDDING_DIM, isNodeType, NODE_TYPES, type NodeType } from './schema.js';

export interface EmbeddingInput {
  nodeId: number | string;
  vector: ArrayLike<number>;
  /** Kept when omitted on update. */
  label?: string | null;
  /** Kept when omitted on update (the original overwrote props with {}). */
  props?: Record<string, unknown> | null;
}

export interface Embedding {
  node_id: number;
  vector: number[];
  label: string | null;
  props: Record<string, unknown> | null;
  updated_at: string;
}

export interface KnnResult extends GraphNode {
  distance: number;
}

/** Validate a vector: exactly 128 finite numbers. Returns its pgvector text form. */
export function vectorLiteral(v: unknown, what = 'vector'): string {
  const ok = Array.isArray(v) || ArrayBuffer.isView(v);
  const arr = ok ? (v as ArrayLike<unknown>) : undefined;
  if (!arr || arr.length !== EMBEDDING_DIM)
    throw invalidInput(`${what} must have exactly ${EMBEDDING_DIM} numbers (got ${arr ? arr.length : typeof v})`, { dimensions: arr?.length });
  const parts: string[] = new Array<string>(EMBEDDING_DIM);
  for (let i = 0; i < EMBEDDING_DIM; i++) {
    const x = arr[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw invalidInput(`${what}[${i}] must be a finite number (got ${String(x)})`, { index: i });
    parts[i] = String(x);
  }
  return `[${parts.join(',')}]`;
}

export function parseVector(text: string): number[] {
  return text
    .slice(1, -1)
    .split(',')
    .map((x) => Number(x));
}

const UPSERT_BATCH = 1000;

/**
 * Insert or replace embeddings (in one transaction; all or nothing). Every node must exist
 * in graph_node_map. Afterwards the ANN index is rebuilt if the table outgrew it
 * (`autoReindex`, default true).
 */
export async function upsertEmbeddings(db: Db, items: readonly EmbeddingInput[], options: { autoReindex?: boolean } = {}): Promise<number> {
  if (!Array.isArray(items)) throw invalidInput('embeddings must be an array');
  if (items.length === 0) return 0;
  const ids: string[] = [];
  const vecs: string[] = [];
  const labels: Array<string | null> = [];
  const props: Array<string | null> = [];
  const seen = new Set<number>();
  items.forEach((it, i) => {
    const id = checkNodeId(it?.nodeId);
    if (seen.has(id)) throw invalidInput(`node ${id} appears twice in one upsert`, { node_id: id });
    seen.add(id);
    ids.push(String(id));
    vecs.push(vectorLiteral(it.vector, `embeddings[${i}].vector`));
    if (it.label !== undefined && it.label !== null && typeof it.label !== 'string') throw invalidInput(`embeddings[${i}].label must be a string`);
    labels.push(it.label ?? null);
    if (it.props !== undefined && it.props !== null && (typeof it.props !== 'object' || Array.isArray(it.props)))
      throw invalidInput(`embeddings[${i}].props must be an object`);
    props.push(it.props ? JSON.stringify(it.props) : null);
  });
  await db.transaction(async (tx) => {
    const missing = await tx.query<{ id: number | string }>(
      'SELECT x.id FROM unnest($1::bigint[]) AS x(id) WHERE NOT EXISTS (SELECT 1 FROM graph_node_map m WHERE m.node_id = x.id) LIMIT 10',
      [ids],
    );
    if (missing.rows.length > 0) {
      const list = missing.rows.map((r) => Number(r.id));
      throw notFound(`graph node(s) ${list.join(', ')} do not exist; embed only mapped nodes`, { node_ids: list });
    }
    for (let at = 0; at < ids.length; at += UPSERT_BATCH) {
      const end = at + UPSERT_BATCH;
      await tx.query(
        `INSERT INTO graph_embeddings AS g (node_id, emb, label, props)
         SELECT x.id, x.v::vector, x.label, x.props::jsonb
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS x(id, v, label, props)
         ON CONFLICT (node_id) DO UPDATE
           SET emb = EXCLUDED.emb,
               label = coalesce(EXCLUDED.label, g.label),
               props = coalesce(EXCLUDED.props, g.props)`,
        [ids.slice(at, end), vecs.slice(at, end), labels.slice(at, end), props.slice(at, end)],
      );
    }
  });
  if (options.autoReindex !== false) await maybeReindex(db);
  return ids.length;
}

export async function getEmbedding(q: Queryable, nodeId: number | string): Promise<Embedding | undefined> {
  const id = checkNodeId(nodeId);
  const r = await q.query<{ node_id: number | string; emb: string; label: string | null; props: Record<string, unknown> | null; updated_at: Date | string }>(
    'SELECT node_id, emb::text AS emb, label, props, updated_at FROM graph_embeddings WHERE node_id = $1',
    [id],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    node_id: Number(row.node_id),
    vector: parseVector(row.emb),
    label: row.label,
    props: row.props,
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export async function deleteEmbeddings(q: Queryable, nodeIds: ReadonlyArray<number | string>): Promise<number> {
  const ids = nodeIds.map((id) => String(checkNodeId(id)));
  if (ids.length === 0) return 0;
  return (await q.query('DELETE FROM graph_embeddings WHERE node_id = ANY($1::bigint[])', [ids])).rowCount;
}

export interface KnnQuery {
  /** Search around this vector… */
  vector?: ArrayLike<number>;
  /** …or around this node's stored embedding (the node itself is left out of the results). */
  nodeId?: number | string;
}

export interface KnnOptions {
  /** Number of results. @defaultValue 10 */
  k?: number;
  /** Only nodes of this type (an iterative index scan keeps the result count at k). */
  type?: NodeType | string;
}

/** k nearest neighbours by L2 distance, nearest first. */
export async function knn(db: Db, query: KnnQuery, options: KnnOptions = {}): Promise<KnnResult[]> {
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1 || k > 10000) throw invalidInput(`k must be an integer between 1 and 10000 (got ${String(k)})`);
  if (options.type !== undefined && !isNodeType(options.type))
    throw invalidInput(`unknown node type '${String(options.type)}' (node types: ${NODE_TYPES.join(', ')})`);
  if ((query.vector === undefined) === (query.nodeId === undefined)) throw invalidInput('give exactly one of vector or nodeId');
  return db.transaction(async (tx) => {
    let literal: string;
    let self: number | undefined;
    if (query.nodeId !== undefined) {
      self = checkNodeId(query.nodeId);
      const r = await tx.query<{ emb: string }>('SELECT emb::text AS emb FROM graph_embeddings WHERE node_id = $1', [self]);
      if (!r.rows[0]) throw notFound(`node ${self} has no embedding`, { node_id: self });
      literal = r.rows[0].emb;
    } else literal = vectorLiteral(query.vector);
    const info = await cachedIndexInfo(db, tx);
    // Per-query search settings from the index metadata, in one round trip; iterative scans
    // (pgvector 0.8) keep scanning until LIMIT rows pass the node-type filter.
    const iterative = options.type ? 'relaxed_order' : 'off';
    if (info.method === 'ivfflat')
      await tx.query("SELECT set_config('ivfflat.probes', $1, true), set_config('ivfflat.iterative_scan', $2, true)", [String(info.probes ?? 1), iterative]);
    else if (info.method === 'hnsw')
      await tx.query("SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', $2, true)", [
        String(Math.max(info.ef_search ?? 100, k + 1)),
        iterative,
      ]);
    const limit = k + (self !== undefined ? 1 : 0);
    const params: unknown[] = [literal];
    let filter = '';
    if (options.type) {
      params.push(options.type);
      filter = 'WHERE e.node_id IN (SELECT node_id FROM graph_node_map WHERE node_type = $2)';
    }
    // Relaxed order may return rows slightly out of order: materialise, then re-sort.
    const r = await tx.query<{ node_id: number | string; node_type: NodeType; ext_id: string; distance: number }>(
      `WITH hits AS MATERIALIZED (
         SELECT e.node_id, e.emb <-> $1::vector AS distance FROM graph_embeddings e ${filter}
          ORDER BY e.emb <-> $1::vector LIMIT ${limit})
       SELECT h.node_id, m.node_type, coalesce(m.ext_uuid::text, m.ext_text_id) AS ext_id, h.distance
         FROM hits h JOIN graph_node_map m ON m.node_id = h.node_id
        ORDER BY h.distance + 0, h.node_id`,
      params,
    );
    return r.rows
      .map((row) => ({ node_id: Number(row.node_id), node_type: row.node_type, ext_id: row.ext_id, distance: Number(row.distance) }))
      .filter((row) => row.node_id !== self)
      .slice(0, k);
  });
}
