import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { invalidInput, notFound } from '../../errors.js';
import {
  EdgeInputSchema,
  GraphEdgeSchema,
  GraphNodeSchema as GraphNode,
  GraphNodeWithAttributesSchema,
  NodeInputSchema,
  NodeKeySchema,
  NodePatchSchema,
} from '../../graph/schema.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';

const Neighbor = Type.Composite([
  GraphNode,
  Type.Object({
    hop: Type.Integer(),
    via: Type.Object(
      { edge_type: Type.String(), src_node_id: Type.Integer(), dst_node_id: Type.Integer() },
      { description: 'The edge through which the neighbour was first reached.' },
    ),
  }),
]);
const NodeIdParams = Type.Object({ nodeId: Type.String({ pattern: '^[0-9]{1,18}$', description: 'graph_node_map node id.' }) });
const NeighborQuery = Type.Object(
  {
    hops: Type.Integer({ minimum: 1, maximum: 4, default: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
    direction: Type.Union([Type.Literal('both'), Type.Literal('out'), Type.Literal('in')], { default: 'both' }),
    edgeType: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 50, description: 'Only follow these edge types (repeat).' })),
  },
  { additionalProperties: false },
);
const KnnBody = Type.Object(
  {
    vector: Type.Optional(Type.Array(Type.Number(), { minItems: 128, maxItems: 128, description: 'Search around this 128-d vector…' })),
    nodeId: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]{1,18}$' })], { description: '…or around this node’s stored embedding.' }),
    ),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    type: Type.Optional(Type.String({ minLength: 1, description: 'Only nodes of this type.' })),
  },
  { additionalProperties: false },
);

function endpointName(ep: string | { nodeId: number | string }): string {
  return typeof ep === 'string' ? ep : `node:${String(ep.nodeId)}`;
}

export function registerGraphRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const graph = ctx.core.graph;
  app.get(
    '/api/graph/stats',
    {
      schema: {
        tags: ['graph'],
        summary: 'Node counts per node type, edge counts per edge type and the number of embeddings.',
        response: {
          200: Type.Object({
            nodes: Type.Record(Type.String(), Type.Integer()),
            edges: Type.Record(Type.String(), Type.Integer()),
            embeddings: Type.Integer(),
          }),
        },
      },
    },
    async () => graph.counts(),
  );

  // Bodies are the library's own schemas (src/graph/schema.ts), and the checks beyond them
  // (key kind, attribute columns) are the library's: a bad node or edge gets the same error
  // here, from the library and from `seedcore graph node create` / `graph edge add`.
  app.post(
    '/api/graph/nodes',
    {
      schema: {
        tags: ['graph'],
        summary: 'Create an entity of a node type and its node (uuid-keyed types generate an id when none is given; task: map an existing task).',
        body: NodeInputSchema,
        response: { 201: GraphNode, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { type, id, attributes } = request.body;
      return reply.status(201).send(await graph.createNode(type, id, attributes ?? {}));
    },
  );

  // A node by type and external id, the key updateNode / deleteNode and `seedcore graph node
  // get|update|delete <type> <id>` take; GET also answers by graph node id.
  app.get(
    '/api/graph/nodes/:type/:id',
    {
      schema: {
        tags: ['graph'],
        summary: "A node by type and external id, with its entity's row as `attributes` (a task is mapped on first read).",
        params: NodeKeySchema,
        response: { 200: GraphNodeWithAttributesSchema, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const { type, id } = request.params;
      const node = await graph.getNode({ type, id });
      if (!node) throw notFound(`${type} '${id}' does not exist`, { node_type: type, id });
      return node;
    },
  );

  app.get(
    '/api/graph/nodes/:nodeId',
    {
      schema: {
        tags: ['graph'],
        summary: "A node by graph node id, with its entity's row as `attributes`.",
        params: NodeIdParams,
        response: { 200: GraphNodeWithAttributesSchema, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const { nodeId } = request.params;
      const node = await graph.getNode({ nodeId });
      if (!node) throw notFound(`graph node ${nodeId} does not exist`, { node_id: Number(nodeId) });
      return node;
    },
  );

  app.patch(
    '/api/graph/nodes/:type/:id',
    {
      schema: {
        tags: ['graph'],
        summary: 'Set attributes of an existing entity (others are kept; null clears an optional one); tasks are changed through the task API.',
        params: NodeKeySchema,
        body: NodePatchSchema,
        response: { 200: GraphNode, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const { type, id } = request.params;
      return graph.updateNode(type, id, request.body.attributes);
    },
  );

  app.delete(
    '/api/graph/nodes/:type/:id',
    {
      schema: {
        tags: ['graph'],
        summary: 'Delete an entity with its node, edges and embedding (204); 409 while a task still uses it (a capability, a memory cell).',
        params: NodeKeySchema,
        response: { 204: Type.Null(), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { type, id } = request.params;
      if (!(await graph.deleteNode(type, id))) throw notFound(`${type} '${id}' does not exist`, { node_type: type, id });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/graph/edges',
    {
      schema: {
        tags: ['graph'],
        summary: 'Add an edge between two existing nodes (201; 200 with created: false when it already exists).',
        body: EdgeInputSchema,
        response: { 200: GraphEdgeSchema, 201: GraphEdgeSchema, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const { edge_type, src, dst } = request.body;
      const edge = await graph.addEdge(edge_type, src, dst);
      return reply.status(edge.created ? 201 : 200).send(edge);
    },
  );

  // The edge to remove is named as POST names it, in the body: its type and its two endpoints.
  app.delete(
    '/api/graph/edges',
    {
      schema: {
        tags: ['graph'],
        summary: 'Remove an edge (204); 404 when it does not exist or an endpoint does not.',
        body: EdgeInputSchema,
        response: { 204: Type.Null(), 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const { edge_type, src, dst } = request.body;
      if (!(await graph.removeEdge(edge_type, src, dst)))
        throw notFound(`no ${edge_type} edge between these endpoints`, { edge_type, src: endpointName(src), dst: endpointName(dst) });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/graph/neighbors/:nodeId',
    {
      schema: {
        tags: ['graph'],
        summary: 'A node and its neighbours within `hops` (nearest first), each with the edge it was reached by.',
        params: NodeIdParams,
        querystring: NeighborQuery,
        response: { 200: Type.Object({ node: GraphNode, neighbors: Type.Array(Neighbor) }), 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const { nodeId } = request.params;
      const q = request.query;
      const node = await graph.resolveNode({ nodeId });
      const list = await graph.neighbors(
        { nodeId },
        { hops: q.hops, limit: q.limit, direction: q.direction, ...(q.edgeType ? { edgeTypes: q.edgeType } : {}) },
      );
      return { node, neighbors: list };
    },
  );

  app.post(
    '/api/embeddings/knn',
    {
      schema: {
        tags: ['graph'],
        summary: 'k nearest nodes by L2 distance around a vector or a node’s embedding, optionally of one node type.',
        body: KnnBody,
        response: {
          200: Type.Object({ items: Type.Array(Type.Composite([GraphNode, Type.Object({ distance: Type.Number() })])) }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const b = request.body;
      if ((b.vector === undefined) === (b.nodeId === undefined)) throw invalidInput('give exactly one of vector or nodeId');
      const items = await ctx.core.embeddings.knn(b.vector !== undefined ? { vector: b.vector } : { nodeId: b.nodeId as number | string }, {
        ...(b.k !== undefined ? { k: b.k } : {}),
        ...(b.type !== undefined ? { type: b.type } : {}),
      });
      return { items };
    },
  );
}
