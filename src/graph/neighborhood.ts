/**
 * k-hop traversal over hgnn_edges: iterative breadth-first search, one query per hop and
 * direction, with caps on nodes and edges so a hub cannot pull the whole graph into memory.
 * Used by the neighbours API, graph_embed and graph_rag_query.
 */
import type { Queryable } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { checkEdgeType } from './edges.js';
import { nodesById, resolveNode, type GraphNode, type NodeRef } from './nodes.js';

export type Direction = 'out' | 'in' | 'both';

/** One edge of hgnn_edges, with numeric node ids. */
export interface EdgeTriple {
  src: number;
  dst: number;
  type: string;
}

export interface TraversalOptions {
  /** Hops to expand. @defaultValue 1 */
  hops?: number;
  /** Only follow these edge types. @defaultValue all 17 */
  edgeTypes?: readonly string[];
  /** Follow edges from the node (out), into it (in) or both. @defaultValue 'both' */
  direction?: Direction;
  /** Stop adding nodes past this many (seeds included). @defaultValue 5000 */
  maxNodes?: number;
  /** Stop loading edges past this many. @defaultValue 20000 */
  maxEdges?: number;
}

export interface Neighborhood {
  /** Node ids in discovery order (seeds first). */
  nodes: number[];
  /** Hop at which each node was first reached (0 for seeds). */
  hop: Map<number, number>;
  /** The edge that first reached each non-seed node (provenance). */
  via: Map<number, EdgeTriple>;
  /** Edges among the nodes (traversed edges plus, with `induced`, every edge between two of them). */
  edges: EdgeTriple[];
  /** True when a node or edge cap cut the traversal short. */
  truncated: boolean;
}

interface EdgeRow {
  src_node_id: number | string;
  dst_node_id: number | string;
  edge_type: string;
}

const toTriple = (r: EdgeRow): EdgeTriple => ({ src: Number(r.src_node_id), dst: Number(r.dst_node_id), type: r.edge_type });

function checkTraversal(o: TraversalOptions): Required<Omit<TraversalOptions, 'edgeTypes'>> & { edgeTypes?: string[] } {
  const hops = o.hops ?? 1;
  if (!Number.isInteger(hops) || hops < 0 || hops > 10) throw invalidInput(`hops must be an integer between 0 and 10 (got ${String(hops)})`);
  const direction = o.direction ?? 'both';
  if (!['out', 'in', 'both'].includes(direction)) throw invalidInput(`direction must be out, in or both (got '${String(direction)}')`);
  const maxNodes = o.maxNodes ?? 5000;
  const maxEdges = o.maxEdges ?? 20000;
  if (!Number.isInteger(maxNodes) || maxNodes < 1) throw invalidInput('maxNodes must be a positive integer');
  if (!Number.isInteger(maxEdges) || maxEdges < 1) throw invalidInput('maxEdges must be a positive integer');
  const edgeTypes = o.edgeTypes ? o.edgeTypes.map((t) => checkEdgeType(t).name) : undefined;
  return { hops, direction, maxNodes, maxEdges, ...(edgeTypes ? { edgeTypes } : {}) };
}

async function incident(q: Queryable, frontier: number[], side: 'src' | 'dst', edgeTypes: string[] | undefined, limit: number): Promise<EdgeTriple[]> {
  const typeFilter = edgeTypes ? ' AND edge_type = ANY($2::text[])' : '';
  const params: unknown[] = [frontier.map(String)];
  if (edgeTypes) params.push(edgeTypes);
  // ORDER BY keeps results deterministic when the cap cuts in.
  const r = await q.query<EdgeRow>(
    `SELECT src_node_id, dst_node_id, edge_type FROM hgnn_edges
      WHERE ${side}_node_id = ANY($1::bigint[])${typeFilter}
      ORDER BY src_node_id, dst_node_id, edge_type LIMIT ${limit + 1}`,
    params,
  );
  return r.rows.map(toTriple);
}

/**
 * Breadth-first expansion from `seeds` (node ids). With `induced`, edges between two
 * collected nodes that the traversal did not walk (e.g. between two last-hop nodes) are
 * loaded too, which is what an embedding of the neighbourhood needs.
 */
export async function expand(q: Queryable, seeds: readonly number[], options: TraversalOptions = {}, induced = false): Promise<Neighborhood> {
  const o = checkTraversal(options);
  const hop = new Map<number, number>();
  const via = new Map<number, EdgeTriple>();
  const nodes: number[] = [];
  const edgeKeys = new Set<string>();
  const edges: EdgeTriple[] = [];
  let truncated = false;
  const addEdge = (e: EdgeTriple): void => {
    const key = `${e.src}|${e.dst}|${e.type}`;
    if (edgeKeys.has(key)) return;
    if (edges.length >= o.maxEdges) {
      truncated = true;
      return;
    }
    edgeKeys.add(key);
    edges.push(e);
  };
  for (const s of seeds) {
    if (hop.has(s)) continue;
    hop.set(s, 0);
    nodes.push(s);
  }
  let frontier = [...nodes];
  for (let h = 1; h <= o.hops && frontier.length > 0 && !truncated; h++) {
    const next: number[] = [];
    const budget = o.maxEdges - edges.length;
    const found: Array<[EdgeTriple, number]> = [];
    if (o.direction !== 'in') for (const e of await incident(q, frontier, 'src', o.edgeTypes, budget)) found.push([e, e.dst]);
    if (o.direction !== 'out') for (const e of await incident(q, frontier, 'dst', o.edgeTypes, budget)) found.push([e, e.src]);
    for (const [e, other] of found) {
      if (!hop.has(other)) {
        if (nodes.length >= o.maxNodes) {
          truncated = true;
          continue;
        }
        hop.set(other, h);
        via.set(other, e);
        nodes.push(other);
        next.push(other);
      }
      addEdge(e);
    }
    frontier = next;
  }
  if (induced && nodes.length > 1 && !truncated) {
    const ids = nodes.map(String);
    const r = await q.query<EdgeRow>(
      `SELECT src_node_id, dst_node_id, edge_type FROM hgnn_edges
        WHERE src_node_id = ANY($1::bigint[]) AND dst_node_id = ANY($1::bigint[])${o.edgeTypes ? ' AND edge_type = ANY($2::text[])' : ''}
        ORDER BY src_node_id, dst_node_id, edge_type LIMIT ${o.maxEdges + 1}`,
      o.edgeTypes ? [ids, o.edgeTypes] : [ids],
    );
    for (const e of r.rows) addEdge(toTriple(e));
  }
  return { nodes, hop, via, edges, truncated };
}

export interface NeighborOptions extends TraversalOptions {
  /** Return at most this many neighbours (nearest hops first). @defaultValue 100 */
  limit?: number;
}

export interface Neighbor extends GraphNode {
  hop: number;
  /** The edge through which the neighbour was first reached. */
  via: { edge_type: string; src_node_id: number; dst_node_id: number };
}

/** Neighbours of one node within `hops`, nearest first; the node itself is not included. */
export async function neighbors(q: Queryable, ref: NodeRef, options: NeighborOptions = {}): Promise<Neighbor[]> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100000) throw invalidInput('limit must be an integer between 1 and 100000');
  const start = await resolveNode(q, ref);
  const nb = await expand(q, [start.node_id], { maxNodes: limit + 1, ...options });
  const ids = nb.nodes.slice(1, limit + 1);
  const byId = new Map((await nodesById(q, ids)).map((n) => [n.node_id, n]));
  return ids.flatMap((id) => {
    const n = byId.get(id);
    const e = nb.via.get(id);
    if (!n || !e) return [];
    return [{ ...n, hop: nb.hop.get(id) ?? 0, via: { edge_type: e.type, src_node_id: e.src, dst_node_id: e.dst } }];
  });
}
