/**
 * graph_embed: FastRP embeddings for the k-hop neighbourhood of some start nodes, or for
 * the whole graph, upserted into graph_embeddings.
 */
import type { Db, Queryable } from '../db/types.js';
import { SeedCoreError, invalidInput } from '../errors.js';
import { maybeReindex } from './ann-index.js';
import { upsertEmbeddings, type EmbeddingInput } from './embeddings.js';
import { fastRP, graphFromTriples, type FastRPOptions } from './fastrp.js';
import { expand, type EdgeTriple, type Neighborhood } from './neighborhood.js';
import { checkNodeId, nodesById, resolveNode } from './nodes.js';
import { NODE_TYPES, type NodeType } from './schema.js';

/** Start nodes as graph_embed / graph_rag_query params name them (as in the original). */
export interface StartParams {
  start_ids?: unknown;
  start_node_ids?: unknown;
  [key: `start_${string}_ids`]: unknown;
}

export interface ResolvedStart {
  ids: number[];
  /** How many start nodes each params key contributed. */
  sources: Record<string, number>;
}

/**
 * Resolve start nodes: numeric node ids from `start_ids`/`start_node_ids`, external ids from
 * `start_<type>_ids` (mapped with ensure_graph_node; the entity must exist). De-duplicated,
 * order kept.
 */
export async function resolveStart(q: Queryable, params: Record<string, unknown>): Promise<ResolvedStart> {
  const ids: number[] = [];
  const sources: Record<string, number> = {};
  const push = (key: string, id: number): void => {
    sources[key] = (sources[key] ?? 0) + 1;
    if (!ids.includes(id)) ids.push(id);
  };
  for (const key of ['start_ids', 'start_node_ids']) {
    const v = params[key];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) throw invalidInput(`${key} must be an array of node ids`);
    const checked = v.map((x) => checkNodeId(x));
    const found = new Set((await nodesById(q, checked)).map((n) => n.node_id));
    const missing = checked.filter((x) => !found.has(x));
    if (missing.length > 0)
      throw new SeedCoreError('SEEDCORE_NOT_FOUND', `start node(s) ${missing.join(', ')} do not exist`, { details: { node_ids: missing } });
    for (const id of checked) push(key, id);
  }
  for (const type of NODE_TYPES) {
    const key = `start_${type}_ids`;
    const v = params[key];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) throw invalidInput(`${key} must be an array of ${type} ids`);
    for (const ext of v) push(key, (await resolveNode(q, { type: type as NodeType, id: String(ext) })).node_id);
  }
  return { ids, sources };
}

export interface EmbedOptions {
  /** Hops around the start nodes. @defaultValue 2 */
  k?: number;
  maxNodes?: number;
  maxEdges?: number;
  fastrp?: FastRPOptions;
  signal?: AbortSignal;
}

export interface EmbedResult {
  embedded: number;
  k: number;
  start_node_count: number;
  embedding_count: number;
  node_count: number;
  edge_count: number;
  truncated: boolean;
  /** Up to 64 graph_node_map rows of the embedded nodes. */
  node_meta: Array<Record<string, unknown>>;
}

/**
 * Per-edge-type weights FastRP uses unless told otherwise (relation awareness): structural
 * edges (dependency, ownership, membership, collaboration, execution) weigh 1, usage and
 * data edges 0.5, so a node's vector leans towards who it belongs to and what it depends on
 * more than towards shared resources (a popular capability or model would otherwise pull
 * unrelated nodes together). Override per call with `fastrp.edgeTypeWeights`.
 */
export const DEFAULT_EDGE_TYPE_WEIGHTS: Readonly<Record<string, number>> = {
  task__depends_on__task: 1,
  task__owned_by__agent: 1,
  task__executed_by__organ: 1,
  agent__member_of__organ: 1,
  agent__collab__agent: 1,
  task__produces__artifact: 0.5,
  task__uses__capability: 0.5,
  task__reads__memory_cell: 0.5,
  task__writes__memory_cell: 0.5,
  organ__provides__skill: 0.5,
  organ__uses__service: 0.5,
  agent__uses__model: 0.5,
  organ__governed_by__policy: 0.5,
  task__reads__fact: 0.5,
  task__produces__fact: 0.5,
  organ__provides__capability: 0.5,
  agent__owns__memory_cell: 0.5,
};

/** Compute embeddings for nodes/edges and return them as upsert input (vectors as plain arrays). */
export function embedGraph(nodeIds: readonly number[], edges: readonly EdgeTriple[], options: FastRPOptions = {}): EmbeddingInput[] {
  const graph = graphFromTriples(nodeIds, edges);
  const emb = fastRP(graph, { edgeTypeWeights: DEFAULT_EDGE_TYPE_WEIGHTS, ...options, dim: 128 });
  return nodeIds.map((id, i) => ({ nodeId: id, vector: emb.subarray(i * 128, (i + 1) * 128), label: null, props: null }));
}

export async function nodeMeta(q: Queryable, ids: readonly number[]): Promise<Array<Record<string, unknown>>> {
  if (ids.length === 0) return [];
  const r = await q.query<{ j: Record<string, unknown> }>(
    'SELECT to_jsonb(t) AS j FROM graph_node_map t WHERE t.node_id = ANY($1::bigint[]) ORDER BY t.node_id LIMIT 64',
    [ids.slice(0, 64).map(String)],
  );
  return r.rows.map((x) => x.j);
}

/** Embed the k-hop neighbourhood of `startIds` and upsert every node's vector. */
export async function embedNeighborhood(
  db: Db,
  startIds: readonly number[],
  options: EmbedOptions = {},
): Promise<EmbedResult & { neighborhood: Neighborhood; vectors: Map<number, Float32Array> }> {
  const k = options.k ?? 2;
  if (!Number.isInteger(k) || k < 1 || k > 10) throw invalidInput(`k must be an integer between 1 and 10 (got ${String(k)})`);
  if (startIds.length === 0) throw invalidInput('no start nodes: give start_ids or start_<type>_ids');
  const nb = await expand(db, startIds, { hops: k, maxNodes: options.maxNodes ?? 5000, maxEdges: options.maxEdges ?? 20000 }, true);
  options.signal?.throwIfAborted();
  const items = embedGraph(nb.nodes, nb.edges, options.fastrp);
  const embedded = await upsertEmbeddings(db, items);
  const vectors = new Map(items.map((it) => [Number(it.nodeId), it.vector as Float32Array]));
  return {
    embedded,
    k,
    start_node_count: startIds.length,
    embedding_count: items.length,
    node_count: nb.nodes.length,
    edge_count: nb.edges.length,
    truncated: nb.truncated,
    node_meta: await nodeMeta(db, nb.nodes),
    neighborhood: nb,
    vectors,
  };
}

export interface EmbedAllOptions {
  fastrp?: FastRPOptions;
  /** Rows per upsert transaction. @defaultValue 5000 */
  batchSize?: number;
  signal?: AbortSignal;
  /** Called after each upsert batch with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface EmbedAllResult {
  embedded: number;
  node_count: number;
  edge_count: number;
  compute_ms: number;
  total_ms: number;
  reindexed: boolean;
}

/** Re-embed the whole graph: every mapped node, every edge of hgnn_edges. */
export async function embedAll(db: Db, options: EmbedAllOptions = {}): Promise<EmbedAllResult> {
  const t0 = performance.now();
  const nodes = (await db.query<{ node_id: number | string }>('SELECT node_id FROM graph_node_map ORDER BY node_id')).rows.map((r) => Number(r.node_id));
  const edges = (
    await db.query<{ s: number | string; d: number | string; t: string }>('SELECT src_node_id AS s, dst_node_id AS d, edge_type AS t FROM hgnn_edges')
  ).rows.map((r) => ({ src: Number(r.s), dst: Number(r.d), type: r.t }));
  options.signal?.throwIfAborted();
  const t1 = performance.now();
  const items = embedGraph(nodes, edges, options.fastrp);
  const compute_ms = performance.now() - t1;
  const batch = options.batchSize ?? 5000;
  let done = 0;
  options.onProgress?.(0, items.length);
  for (let at = 0; at < items.length; at += batch) {
    options.signal?.throwIfAborted();
    done += await upsertEmbeddings(db, items.slice(at, at + batch), { autoReindex: false });
    options.onProgress?.(done, items.length);
  }
  const re = await maybeReindex(db);
  return { embedded: done, node_count: nodes.length, edge_count: edges.length, compute_ms, total_ms: performance.now() - t0, reindexed: re?.rebuilt ?? false };
}
