/**
 * graph_rag_query: retrieval over the graph without an LLM. Seeds come from node ids,
 * external ids or a text query (facts full-text search → fact nodes); the seeds'
 * neighbourhood is embedded (FastRP), the k nearest nodes to its centroid are found, their
 * surroundings expanded, and the facts linked to the result attached with snippets.
 * Structural embeddings cannot embed text, so text only ever selects seeds.
 */
import type { Db, Queryable } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { DEFAULT_MAX_CANDIDATES, tsQueryExpr } from '../facts/search.js';

// Facts valid now and not superseded by their predicate's policy (migration 019), as search sees them.
const CURRENT_FACT = 'NOT superseded AND coalesce(valid_from, created_at) <= now() AND (valid_to IS NULL OR valid_to > now())';
import { embedNeighborhood, resolveStart, type ResolvedStart } from './embed.js';
import { knn } from './embeddings.js';
import { expand, type EdgeTriple, type Neighborhood } from './neighborhood.js';
import { nodesById, type GraphNode } from './nodes.js';
import { isNodeType, NODE_TYPES, type NodeType } from './schema.js';

export interface RagParams extends Record<string, unknown> {
  /** Hops embedded around the seeds. @defaultValue 2 */
  k?: number;
  /** Nearest neighbours of the centroid. @defaultValue 10 */
  topk?: number;
  /** Free text: facts matching it (websearch syntax) become seeds. */
  query?: string;
  /** Max facts taken as seeds from `query`. @defaultValue 10 */
  query_seed_limit?: number;
  /** Hops expanded around each result node for context. @defaultValue 1 */
  expand_hops?: number;
  /** Only return neighbours of this node type. */
  node_type?: string;
}

export interface PathEdge {
  edge_type: string;
  src_node_id: number;
  dst_node_id: number;
}

export interface RagNeighbor extends GraphNode {
  /** L2 distance to the centroid (lower is nearer). */
  score: number;
  /** How the node is connected to the seeds: the edges from a seed to it, or only by similarity. */
  provenance: { kind: 'seed' } | { kind: 'path'; seed: number; hops: number; edges: PathEdge[] } | { kind: 'similarity' };
}

export interface RagFact {
  fact_id: string;
  fact_node_id: number | null;
  /** The result/context node the fact is linked to, and how. */
  linked_node_id: number;
  link: string;
  snippet: string;
  /** The fact's confidence (0..1); facts no longer valid or superseded are never attached. */
  confidence: number;
}

export interface RagResult {
  neighbors: RagNeighbor[];
  neighbor_count: number;
  seeds: GraphNode[];
  seed_count: number;
  k: number;
  topk: number;
  centroid_computed: boolean;
  embedded: number;
  /** Nodes around the results (expand_hops), with the edge that reached them. */
  context: Array<GraphNode & { hop: number; via: PathEdge }>;
  facts: RagFact[];
  start_debug: { sources: Record<string, number>; node_count: number; truncated: boolean };
}

const pathEdge = (e: EdgeTriple): PathEdge => ({ edge_type: e.type, src_node_id: e.src, dst_node_id: e.dst });

/** Edges from a seed to `id` along the BFS tree of `nb`. */
function pathTo(nb: Neighborhood, id: number): { seed: number; edges: PathEdge[] } {
  const edges: PathEdge[] = [];
  let cur = id;
  for (let guard = 0; guard < 64 && (nb.hop.get(cur) ?? 0) > 0; guard++) {
    const e = nb.via.get(cur);
    if (!e) break;
    edges.unshift(pathEdge(e));
    cur = e.src === cur ? e.dst : e.src;
  }
  return { seed: cur, edges };
}

function intParam(p: Record<string, unknown>, key: string, dflt: number, min: number, max: number): number {
  const v = p[key] ?? dflt;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max)
    throw invalidInput(`${key} must be an integer between ${min} and ${max} (got ${JSON.stringify(v)})`);
  return v as number;
}

/** Facts whose text matches `query` (websearch syntax), best first, as fact node ids. */
export async function seedsFromText(q: Queryable, query: string, limit: number): Promise<number[]> {
  const r = await q.query<{ node_id: number | string }>(
    // Same matching, validity, ranking and candidate cap as facts search (src/facts/search.ts).
    `SELECT ensure_fact_node(f.id) AS node_id FROM (
       SELECT c.id, ts_rank_cd(c.search_vector, q.tsq, 32) * (0.5 + 0.5 * c.confidence) AS rank
         FROM (SELECT ${tsQueryExpr('$1')} AS tsq) q
        CROSS JOIN LATERAL (SELECT id, search_vector, confidence FROM facts
                             WHERE search_vector @@ q.tsq AND ${CURRENT_FACT} LIMIT $3) c
        ORDER BY rank DESC, c.id LIMIT $2) f
      ORDER BY f.rank DESC, f.id`,
    [query, limit, DEFAULT_MAX_CANDIDATES],
  );
  return r.rows.map((x) => Number(x.node_id));
}

/**
 * Facts that are, or are linked (task reads/produces) to, the given nodes, most confident
 * first; only facts valid now and not superseded; snippets highlight `query`.
 */
export async function linkedFacts(q: Queryable, nodeIds: readonly number[], query: string | undefined, limit = 50): Promise<RagFact[]> {
  if (nodeIds.length === 0) return [];
  const r = await q.query<{
    fact_id: string;
    fact_node_id: number | string | null;
    linked_node_id: number | string;
    link: string;
    snippet: string;
    confidence: number | string;
  }>(
    `WITH n AS (SELECT m.* FROM graph_node_map m WHERE m.node_id = ANY($1::bigint[])),
     linked AS (
       SELECT n.node_id AS linked_node_id, n.ext_uuid AS fact_id, 'self' AS link FROM n WHERE n.node_type = 'fact'
       UNION ALL
       SELECT n.node_id, r.fact_id, 'task__reads__fact' FROM n JOIN task_reads_fact r ON r.task_id = n.ext_uuid WHERE n.node_type = 'task'
       UNION ALL
       SELECT n.node_id, p.fact_id, 'task__produces__fact' FROM n JOIN task_produces_fact p ON p.task_id = n.ext_uuid WHERE n.node_type = 'task')
     SELECT * FROM (
       SELECT DISTINCT ON (f.id) f.id::text AS fact_id, fm.node_id AS fact_node_id, l.linked_node_id, l.link, f.confidence,
              CASE WHEN $2::text <> '' THEN ts_headline('english', f.text, ${tsQueryExpr('$2::text')}, 'MaxWords=30, MinWords=10')
                   ELSE left(f.text, 200) END AS snippet
         FROM linked l JOIN facts f ON f.id = l.fact_id AND ${CURRENT_FACT}
         LEFT JOIN graph_node_map fm ON fm.node_type = 'fact' AND fm.ext_table = 'facts' AND fm.ext_uuid = f.id
        ORDER BY f.id, array_position($1::bigint[], l.linked_node_id)) x
      ORDER BY x.confidence DESC, x.fact_id
      LIMIT $3`,
    [nodeIds.map(String), query ?? '', limit],
  );
  return r.rows.map((x) => ({
    fact_id: x.fact_id,
    fact_node_id: x.fact_node_id === null ? null : Number(x.fact_node_id),
    linked_node_id: Number(x.linked_node_id),
    link: x.link,
    snippet: x.snippet,
    confidence: Number(x.confidence),
  }));
}

export async function ragQuery(db: Db, params: RagParams, signal?: AbortSignal): Promise<RagResult> {
  if (typeof params !== 'object' || params === null) throw invalidInput('params must be an object');
  const k = intParam(params, 'k', 2, 1, 10);
  const topk = intParam(params, 'topk', 10, 1, 1000);
  const expandHops = intParam(params, 'expand_hops', 1, 0, 5);
  const seedLimit = intParam(params, 'query_seed_limit', 10, 1, 100);
  if (params.query !== undefined && (typeof params.query !== 'string' || params.query.trim() === '')) throw invalidInput('query must be a non-empty string');
  if (params.node_type !== undefined && !isNodeType(params.node_type)) throw invalidInput(`node_type must be one of ${NODE_TYPES.join(', ')}`);
  const start: ResolvedStart = await resolveStart(db, params);
  if (params.query) {
    const fromText = await seedsFromText(db, params.query, seedLimit);
    start.sources.query = fromText.length;
    for (const id of fromText) if (!start.ids.includes(id)) start.ids.push(id);
  }
  const empty: RagResult = {
    neighbors: [],
    neighbor_count: 0,
    seeds: [],
    seed_count: 0,
    k,
    topk,
    centroid_computed: false,
    embedded: 0,
    context: [],
    facts: [],
    start_debug: { sources: start.sources, node_count: 0, truncated: false },
  };
  if (start.ids.length === 0) {
    if (params.query) return empty; // the text matched nothing: an empty answer, not an error
    throw invalidInput('no seeds: give start_ids, start_<type>_ids or query');
  }
  const emb = await embedNeighborhood(db, start.ids, { k, ...(signal ? { signal } : {}) });
  signal?.throwIfAborted();
  // Centroid of the neighbourhood's vectors, not re-normalised (the original SeedCore's
  // graph_rag_query computes it the same way).
  const centroid = new Array<number>(128).fill(0);
  for (const v of emb.vectors.values()) for (let j = 0; j < 128; j++) centroid[j] = (centroid[j] as number) + (v[j] as number);
  for (let j = 0; j < 128; j++) centroid[j] = (centroid[j] as number) / emb.vectors.size;
  const hits = await knn(db, { vector: centroid }, { k: topk, ...(params.node_type ? { type: params.node_type as NodeType } : {}) });
  // The BFS tree of the embedded neighbourhood gives the provenance paths.
  const nb = emb.neighborhood;
  const seedSet = new Set(start.ids);
  const neighbors: RagNeighbor[] = hits.map((h) => {
    const base = { node_id: h.node_id, node_type: h.node_type, ext_id: h.ext_id, score: h.distance };
    if (seedSet.has(h.node_id)) return { ...base, provenance: { kind: 'seed' } };
    if (nb.hop.has(h.node_id)) {
      const p = pathTo(nb, h.node_id);
      return { ...base, provenance: { kind: 'path', seed: p.seed, hops: p.edges.length, edges: p.edges } };
    }
    return { ...base, provenance: { kind: 'similarity' } };
  });
  const resultIds = neighbors.map((n) => n.node_id);
  const around = expandHops > 0 ? await expand(db, resultIds, { hops: expandHops, maxNodes: resultIds.length + 200, maxEdges: 2000 }) : undefined;
  const contextIds = around ? around.nodes.filter((id) => !resultIds.includes(id)) : [];
  const ctxNodes = new Map((await nodesById(db, contextIds)).map((n) => [n.node_id, n]));
  const context = contextIds.flatMap((id) => {
    const n = ctxNodes.get(id);
    const e = around?.via.get(id);
    return n && e ? [{ ...n, hop: around?.hop.get(id) ?? 0, via: pathEdge(e) }] : [];
  });
  const seeds = await nodesById(db, start.ids);
  const order = new Map(start.ids.map((id, i) => [id, i]));
  seeds.sort((a, b) => (order.get(a.node_id) ?? 0) - (order.get(b.node_id) ?? 0));
  return {
    neighbors,
    neighbor_count: neighbors.length,
    seeds,
    seed_count: seeds.length,
    k,
    topk,
    centroid_computed: true,
    embedded: emb.embedded,
    context,
    facts: await linkedFacts(db, [...resultIds, ...contextIds], params.query),
    start_debug: { sources: start.sources, node_count: emb.node_count, truncated: emb.truncated },
  };
}
