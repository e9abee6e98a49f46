/**
 * Graph edges: add and remove edges of the 18 typed edge tables, and count nodes and edges.
 * Endpoint node ids are mapped by the edge tables' insert triggers (007), so an edge is
 * visible in hgnn_edges as soon as its transaction commits.
 */
import type { Db, Queryable } from '../db/types.js';
import { invalidInput, notFound } from '../errors.js';
import { assertSchema, got } from '../schema-check.js';
import { checkExtId, checkNodeId, nodesById, resolveNode, type GraphNode } from './nodes.js';
import { EDGE_DEFS, EDGE_TYPES, EdgeInputSchema, NODE_DEFS, NODE_TYPES, edgeDef, type EdgeTypeDef, type NodeType } from './schema.js';

/** An edge endpoint: the entity's external id, or its graph node id. */
export type EdgeEndpoint = string | { nodeId: number | string };

export interface GraphEdge {
  edge_type: string;
  src: GraphNode;
  dst: GraphNode;
}

/** The edge type named `name`; SEEDCORE_INVALID_INPUT at `path` (expected: one of the edge types) otherwise. */
export function checkEdgeType(name: unknown, path = 'edge_type'): EdgeTypeDef {
  const def = typeof name === 'string' ? edgeDef(name) : undefined;
  if (!def)
    throw invalidInput(`unknown edge type '${String(name)}' (edge types: ${EDGE_TYPES.join(', ')})`, {
      edge_type: name,
      path,
      expected: `one of ${EDGE_TYPES.join(', ')}`,
      got: got(name),
    });
  return def;
}

/**
 * The one check of an edge input (EdgeInputSchema: the body of POST /api/graph/edges), with
 * the edge type first so an unknown one is named as such.
 */
function checkEdgeInput(edgeType: unknown, src: unknown, dst: unknown): EdgeTypeDef {
  const def = checkEdgeType(edgeType);
  assertSchema(EdgeInputSchema, { edge_type: edgeType, src, dst });
  return def;
}

async function endpoint(q: Queryable, type: NodeType, ep: EdgeEndpoint, side: 'src' | 'dst'): Promise<GraphNode> {
  const name = side === 'src' ? 'source' : 'target';
  if (typeof ep === 'object' && ep !== null && 'nodeId' in ep) {
    const id = checkNodeId(ep.nodeId, `${side}.nodeId`);
    const [n] = await nodesById(q, [id]);
    if (!n) throw notFound(`${name} node ${id} does not exist`, { node_id: id });
    if (n.node_type !== type)
      throw invalidInput(`${name} node ${id} is a ${n.node_type}, this edge type needs a ${type}`, {
        node_id: id,
        path: `${side}.nodeId`,
        expected: `the node id of a ${type}`,
        got: `a ${n.node_type} node`,
      });
    return n;
  }
  const def = NODE_DEFS[type];
  const id = checkExtId(def, ep, side);
  try {
    return await resolveNode(q, { type, id });
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'SEEDCORE_NOT_FOUND') throw notFound(`${name} ${type} '${id}' does not exist`, { node_type: type, id });
    throw e;
  }
}

/** Add an edge; both endpoints must exist. Adding an existing edge is a no-op (`created: false`). */
export async function addEdge(db: Db, edgeType: string, src: EdgeEndpoint, dst: EdgeEndpoint): Promise<GraphEdge & { created: boolean }> {
  const def = checkEdgeInput(edgeType, src, dst);
  return db.transaction(async (tx) => {
    const s = await endpoint(tx, def.srcType, src, 'src');
    const d = await endpoint(tx, def.dstType, dst, 'dst');
    const r = await tx.query(
      `INSERT INTO ${def.table} (${def.srcCol}, ${def.dstCol}) VALUES ($1::${NODE_DEFS[def.srcType].keyKind}, $2::${NODE_DEFS[def.dstType].keyKind})
       ON CONFLICT DO NOTHING`,
      [s.ext_id, d.ext_id],
    );
    return { edge_type: def.name, src: s, dst: d, created: r.rowCount > 0 };
  });
}

/** Remove an edge; returns false if it did not exist. */
export async function removeEdge(db: Db, edgeType: string, src: EdgeEndpoint, dst: EdgeEndpoint): Promise<boolean> {
  const def = checkEdgeInput(edgeType, src, dst);
  return db.transaction(async (tx) => {
    const s = await endpoint(tx, def.srcType, src, 'src');
    const d = await endpoint(tx, def.dstType, dst, 'dst');
    const r = await tx.query(
      `DELETE FROM ${def.table} WHERE ${def.srcCol} = $1::${NODE_DEFS[def.srcType].keyKind} AND ${def.dstCol} = $2::${NODE_DEFS[def.dstType].keyKind}`,
      [s.ext_id, d.ext_id],
    );
    return r.rowCount > 0;
  });
}

export interface GraphCounts {
  nodes: Record<NodeType, number>;
  edges: Record<string, number>;
  embeddings: number;
}

/** Node counts per type, edge counts per type (zeros included) and the number of embeddings. */
export async function graphCounts(q: Queryable): Promise<GraphCounts> {
  const nodes = Object.fromEntries(NODE_TYPES.map((t) => [t, 0])) as Record<NodeType, number>;
  const n = await q.query<{ node_type: NodeType; n: number | string }>('SELECT node_type, count(*) AS n FROM graph_node_map GROUP BY node_type');
  for (const r of n.rows) nodes[r.node_type] = Number(r.n);
  // Counting each edge table directly is cheaper than counting the hgnn_edges joins, and
  // equal to it: endpoints are mapped when the edge is written.
  const e = await q.query<{ edge_type: string; n: number | string }>(
    EDGE_DEFS.map((d) => `SELECT '${d.name}' AS edge_type, count(*) AS n FROM ${d.table}`).join(' UNION ALL '),
  );
  const edges = Object.fromEntries(e.rows.map((r) => [r.edge_type, Number(r.n)]));
  const emb = await q.query<{ n: number | string }>('SELECT count(*) AS n FROM graph_embeddings');
  return { nodes, edges, embeddings: Number(emb.rows[0]?.n ?? 0) };
}
