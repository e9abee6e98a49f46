/**
 * The graph and embeddings APIs as objects bound to one database (SeedCore.graph,
 * SeedCore.embeddings). Each method is a thin call into the module that does the work.
 */
import type { Db } from '../db/types.js';
import { indexInfo, reindex, type IndexInfo, type ReindexOptions, type ReindexResult } from './ann-index.js';
import { addEdge, graphCounts, removeEdge, type EdgeEndpoint, type GraphCounts, type GraphEdge } from './edges.js';
import { embedAll, embedNeighborhood, resolveStart, type EmbedAllOptions, type EmbedAllResult, type EmbedOptions, type EmbedResult } from './embed.js';
import {
  deleteEmbeddings,
  getEmbedding,
  knn,
  upsertEmbeddings,
  type Embedding,
  type EmbeddingInput,
  type KnnOptions,
  type KnnQuery,
  type KnnResult,
} from './embeddings.js';
import { exportDgl, exportEdgeList, type DglExportResult, type ExportOptions } from './export.js';
import { neighbors, type Neighbor, type NeighborOptions } from './neighborhood.js';
import { createNode, deleteNode, getNode, resolveNode, updateNode, type GraphNode, type NodeAttributes, type NodeRef } from './nodes.js';
import { ragQuery, type RagParams, type RagResult } from './rag.js';

export interface GraphApi {
  /** Create an entity of `type` and its node (tasks: map an existing task). */
  createNode(type: string, id: string | undefined, attributes?: NodeAttributes): Promise<GraphNode>;
  /**
   * Set attributes of an existing entity (PATCH /api/graph/nodes/:type/:id): the given ones are
   * set, the others kept, null clears an optional one. NOT_FOUND if it does not exist,
   * CONFLICT if a unique attribute is taken; nothing is written on any error.
   */
  updateNode(type: string, id: string, attributes: NodeAttributes): Promise<GraphNode>;
  /**
   * Delete an entity with its node, edges and embedding (DELETE /api/graph/nodes/:type/:id);
   * false if it did not exist. CONFLICT, with nothing deleted, while a task uses it (a
   * capability or memory cell: those edges restrict deletion).
   */
  deleteNode(type: string, id: string): Promise<boolean>;
  /** A node with its entity's row as `attributes` (GET /api/graph/nodes/…); undefined if it does not exist. */
  getNode(ref: NodeRef): Promise<(GraphNode & { attributes: Record<string, unknown> }) | undefined>;
  /** The node id of an existing entity (mapping it if needed). */
  resolveNode(ref: NodeRef): Promise<GraphNode>;
  addEdge(edgeType: string, src: EdgeEndpoint, dst: EdgeEndpoint): Promise<GraphEdge & { created: boolean }>;
  /** Remove an edge (DELETE /api/graph/edges); false if it did not exist, NOT_FOUND if an endpoint does not. */
  removeEdge(edgeType: string, src: EdgeEndpoint, dst: EdgeEndpoint): Promise<boolean>;
  neighbors(ref: NodeRef, options?: NeighborOptions): Promise<Neighbor[]>;
  counts(): Promise<GraphCounts>;
  /** FastRP-embed the k-hop neighbourhood of start nodes (params as graph_embed's). */
  embed(params: Record<string, unknown>, options?: EmbedOptions): Promise<EmbedResult>;
  embedAll(options?: EmbedAllOptions): Promise<EmbedAllResult>;
  ragQuery(params: RagParams): Promise<RagResult>;
  exportDgl(dir: string, options?: ExportOptions): Promise<DglExportResult>;
  exportEdgeList(file: string, options?: ExportOptions): Promise<{ file: string; rows: number; ms: number }>;
}

export interface EmbeddingsApi {
  upsert(items: readonly EmbeddingInput[], options?: { autoReindex?: boolean }): Promise<number>;
  get(nodeId: number | string): Promise<Embedding | undefined>;
  delete(nodeIds: ReadonlyArray<number | string>): Promise<number>;
  knn(query: KnnQuery, options?: KnnOptions): Promise<KnnResult[]>;
  reindex(options?: ReindexOptions): Promise<ReindexResult>;
  indexInfo(): Promise<IndexInfo>;
}

export function createGraphApi(db: Db): GraphApi {
  return {
    createNode: (type, id, attributes) => createNode(db, type, id, attributes),
    updateNode: (type, id, attributes) => updateNode(db, type, id, attributes),
    deleteNode: (type, id) => deleteNode(db, type, id),
    getNode: (ref) => getNode(db, ref),
    resolveNode: (ref) => resolveNode(db, ref),
    addEdge: (edgeType, src, dst) => addEdge(db, edgeType, src, dst),
    removeEdge: (edgeType, src, dst) => removeEdge(db, edgeType, src, dst),
    neighbors: (ref, options) => neighbors(db, ref, options),
    counts: () => graphCounts(db),
    async embed(params, options) {
      const start = await resolveStart(db, params);
      const k = (params.k as number | undefined) ?? options?.k;
      const { neighborhood: _nb, vectors: _v, ...result } = await embedNeighborhood(db, start.ids, { ...options, ...(k !== undefined ? { k } : {}) });
      return result;
    },
    embedAll: (options) => embedAll(db, options),
    ragQuery: (params) => ragQuery(db, params),
    exportDgl: (dir, options) => exportDgl(db, dir, options),
    exportEdgeList: (file, options) => exportEdgeList(db, file, options),
  };
}

export function createEmbeddingsApi(db: Db): EmbeddingsApi {
  return {
    upsert: (items, options) => upsertEmbeddings(db, items, options),
    get: (nodeId) => getEmbedding(db, nodeId),
    delete: (nodeIds) => deleteEmbeddings(db, nodeIds),
    knn: (query, options) => knn(db, query, options),
    reindex: (options) => reindex(db, options),
    indexInfo: () => indexInfo(db),
  };
}

export { graphHandlers } from './handlers.js';
export { fastRP, type FastRPOptions, type FastRPGraph } from './fastrp.js';
export { NODE_TYPES, EDGE_TYPES, EDGE_DEFS, EMBEDDING_DIM, type NodeType, type EdgeTypeDef } from './schema.js';
export type {
  GraphNode,
  NodeRef,
  NodeAttributes,
  EdgeEndpoint,
  GraphEdge,
  GraphCounts,
  Neighbor,
  NeighborOptions,
  Embedding,
  EmbeddingInput,
  KnnQuery,
  KnnOptions,
  KnnResult,
  IndexInfo,
  ReindexOptions,
  ReindexResult,
  EmbedOptions,
  EmbedResult,
  EmbedAllOptions,
  EmbedAllResult,
  RagParams,
  RagResult,
  DglExportResult,
  ExportOptions,
};
