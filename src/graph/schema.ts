/**
 * The heterogeneous graph's shape as data: 11 node types (entity tables) and 18 edge types
 * (edge tables), exactly as migrations 007, 008, 010 and 019 define them. Every graph module
 * reads table and column names from here, never from user input, so SQL built from these
 * identifiers cannot be injected.
 *
 * It also holds the one schema of each graph input (a node, its attributes, an edge) that the
 * library checks, the HTTP routes take, OpenAPI names and the CLI goes through.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const NODE_TYPES = ['task', 'agent', 'organ', 'artifact', 'capability', 'memory_cell', 'fact', 'model', 'policy', 'service', 'skill'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

/** Column kinds an entity attribute can have; used to validate and cast input. */
export type ColumnKind = 'text' | 'jsonb' | 'int' | 'text[]';

export interface NodeTypeDef {
  type: NodeType;
  /** Entity table (graph_node_map.ext_table). */
  table: string;
  /** Primary-key column of the entity table. */
  key: string;
  /** uuid-keyed entities are mapped through ext_uuid, text-keyed ones through ext_text_id. */
  keyKind: 'uuid' | 'text';
  /** Attribute columns the graph API may set, with their kinds. */
  columns: Record<string, ColumnKind>;
  /** Attributes that must be given on create (NOT NULL without default). */
  required: readonly string[];
  /** False for tasks: the graph only references tasks, the task API creates them. */
  writable: boolean;
}

const text = (names: string[], kind: ColumnKind = 'text'): Record<string, ColumnKind> => Object.fromEntries(names.map((n) => [n, kind]));

export const NODE_DEFS: Record<NodeType, NodeTypeDef> = {
  task: { type: 'task', table: 'tasks', key: 'id', keyKind: 'uuid', columns: {}, required: [], writable: false },
  agent: {
    type: 'agent',
    table: 'agent_registry',
    key: 'agent_id',
    keyKind: 'text',
    columns: { display_name: 'text', props: 'jsonb' },
    required: [],
    writable: true,
  },
  organ: {
    type: 'organ',
    table: 'organ_registry',
    key: 'organ_id',
    keyKind: 'text',
    columns: { agent_id: 'text', kind: 'text', props: 'jsonb' },
    required: [],
    writable: true,
  },
  artifact: {
    type: 'artifact',
    table: 'artifact',
    key: 'artifact_id',
    keyKind: 'uuid',
    columns: { uri: 'text', kind: 'text', props: 'jsonb' },
    required: ['uri'],
    writable: true,
  },
  capability: {
    type: 'capability',
    table: 'capability',
    key: 'capability_id',
    keyKind: 'uuid',
    columns: { name: 'text', props: 'jsonb' },
    required: ['name'],
    writable: true,
  },
  memory_cell: {
    type: 'memory_cell',
    table: 'memory_cell',
    key: 'memory_cell_id',
    keyKind: 'uuid',
    columns: { ...text(['scope', 'mkey']), version: 'int', props: 'jsonb' },
    required: ['scope', 'mkey'],
    writable: true,
  },
  fact: {
    type: 'fact',
    table: 'facts',
    key: 'id',
    keyKind: 'uuid',
    columns: { text: 'text', tags: 'text[]', meta_data: 'jsonb' },
    required: ['text'],
    writable: true,
  },
  model: { type: 'model', table: 'model', key: 'model_name', keyKind: 'text', columns: { meta: 'jsonb' }, required: [], writable: true },
  policy: { type: 'policy', table: 'policy', key: 'policy_name', keyKind: 'text', columns: { meta: 'jsonb' }, required: [], writable: true },
  service: { type: 'service', table: 'service', key: 'service_name', keyKind: 'text', columns: { meta: 'jsonb' }, required: [], writable: true },
  skill: { type: 'skill', table: 'skill', key: 'skill_name', keyKind: 'text', columns: { meta: 'jsonb' }, required: [], writable: true },
};

export interface EdgeTypeDef {
  /** `<src type>__<relation>__<dst type>`, as in hgnn_edges.edge_type. */
  name: string;
  relation: string;
  table: string;
  srcType: NodeType;
  srcCol: string;
  dstType: NodeType;
  dstCol: string;
}

function edge(table: string, srcType: NodeType, srcCol: string, relation: string, dstType: NodeType, dstCol: string): EdgeTypeDef {
  return { name: `${srcType}__${relation}__${dstType}`, relation, table, srcType, srcCol, dstType, dstCol };
}

/** The 18 edge types of hgnn_edges (010, 019), in the view's order. */
export const EDGE_DEFS: readonly EdgeTypeDef[] = [
  edge('task_depends_on_task', 'task', 'src_task_id', 'depends_on', 'task', 'dst_task_id'),
  edge('task_produces_artifact', 'task', 'task_id', 'produces', 'artifact', 'artifact_id'),
  edge('task_uses_capability', 'task', 'task_id', 'uses', 'capability', 'capability_id'),
  edge('task_reads_memory', 'task', 'task_id', 'reads', 'memory_cell', 'memory_cell_id'),
  edge('task_writes_memory', 'task', 'task_id', 'writes', 'memory_cell', 'memory_cell_id'),
  edge('task_executed_by_organ', 'task', 'task_id', 'executed_by', 'organ', 'organ_id'),
  edge('task_owned_by_agent', 'task', 'task_id', 'owned_by', 'agent', 'agent_id'),
  edge('agent_member_of_organ', 'agent', 'agent_id', 'member_of', 'organ', 'organ_id'),
  edge('agent_collab_agent', 'agent', 'src_agent', 'collab', 'agent', 'dst_agent'),
  edge('organ_provides_skill', 'organ', 'organ_id', 'provides', 'skill', 'skill_name'),
  edge('organ_uses_service', 'organ', 'organ_id', 'uses', 'service', 'service_name'),
  edge('agent_uses_model', 'agent', 'agent_id', 'uses', 'model', 'model_name'),
  edge('organ_governed_by_policy', 'organ', 'organ_id', 'governed_by', 'policy', 'policy_name'),
  edge('task_reads_fact', 'task', 'task_id', 'reads', 'fact', 'fact_id'),
  edge('task_produces_fact', 'task', 'task_id', 'produces', 'fact', 'fact_id'),
  edge('organ_provides_capability', 'organ', 'organ_id', 'provides', 'capability', 'capability_id'),
  edge('agent_owns_memory_cell', 'agent', 'agent_id', 'owns', 'memory_cell', 'memory_cell_id'),
  edge('fact_derives_from_fact', 'fact', 'src_fact_id', 'derives_from', 'fact', 'dst_fact_id'),
];

export const EDGE_TYPES: readonly string[] = EDGE_DEFS.map((e) => e.name);

const EDGE_BY_NAME = new Map(EDGE_DEFS.map((e) => [e.name, e]));

export function isNodeType(t: unknown): t is NodeType {
  return typeof t === 'string' && (NODE_TYPES as readonly string[]).includes(t);
}

export function edgeDef(name: string): EdgeTypeDef | undefined {
  return EDGE_BY_NAME.get(name);
}

export const EMBEDDING_DIM = 128;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

const ENDPOINT_ID = { minLength: 1, maxLength: 1000, pattern: '\\S' } as const;
const NodeIdText = Type.String({ pattern: '^[0-9]{1,18}$', description: 'A graph_node_map node id, as digits.' });

/** A graph node id: what `{ nodeId }` takes (an integer, or its digits). */
export const NodeIdSchema = Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), NodeIdText], {
  description: 'graph_node_map node id.',
});

/**
 * A node to create: createNode(type, id, attributes), POST /api/graph/nodes and
 * `seedcore graph node create <type> [id] --attrs`. Which attributes a type has, and which are
 * required, is NodeAttributesSchema's per type; a uuid-keyed type's id must be a uuid.
 */
export const NodeInputSchema = Type.Object(
  {
    type: Type.Union(
      NODE_TYPES.map((t) => Type.Literal(t)),
      { description: 'Node type (task: map an existing task; the graph never creates tasks).' },
    ),
    id: Type.Optional(
      Type.String({ ...ENDPOINT_ID, description: 'External id: required for text-keyed types, a uuid for uuid-keyed ones (generated when left out).' }),
    ),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "The entity's attribute columns, a JSON object." })),
  },
  { additionalProperties: false, description: 'A graph node to create.' },
);

export type NodeInput = Static<typeof NodeInputSchema>;

/**
 * An existing node named by its type and external id: getNode / updateNode / deleteNode, the
 * path parameters of GET, PATCH and DELETE /api/graph/nodes/:type/:id, and the `<type> <id>`
 * of `seedcore graph node get|update|delete`.
 */
export const NodeKeySchema = Type.Object(
  { type: NodeInputSchema.properties.type, id: Type.String({ ...ENDPOINT_ID, description: "The entity's external id." }) },
  { additionalProperties: false, description: 'A graph node by type and external id.' },
);

export type NodeKey = Static<typeof NodeKeySchema>;

/**
 * The attributes to set on an existing node: the body of PATCH /api/graph/nodes/:type/:id and
 * `seedcore graph node update --attrs`. Given attributes are set, others are left as they are;
 * null clears an optional one. Which attributes a type has is NodeAttributesSchema's `update`.
 */
export const NodePatchSchema = Type.Object(
  { attributes: Type.Record(Type.String(), Type.Unknown(), { description: 'Attribute columns to set, a JSON object (at least one).' }) },
  { additionalProperties: false, description: 'Attributes of a graph node to set.' },
);

export type NodePatch = Static<typeof NodePatchSchema>;

/** What updateNode(type, id, attributes) checks: the node's key and the patch. */
export const NodeUpdateSchema = Type.Object(
  { ...NodeKeySchema.properties, ...NodePatchSchema.properties },
  { additionalProperties: false, description: 'Attributes of a graph node to set.' },
);

const COLUMN_SCHEMA: Record<ColumnKind, () => TSchema> = {
  text: () => Type.String({ maxLength: 100_000 }),
  // integer columns: PostgreSQL's int4 range (outside it the insert would fail).
  int: () => Type.Integer({ minimum: -2147483648, maximum: 2147483647 }),
  'text[]': () => Type.Array(Type.String({ maxLength: 100_000 }), { maxItems: 10_000 }),
  jsonb: () => Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Array(Type.Unknown())]),
};

function attributesSchema(def: NodeTypeDef, mode: 'create' | 'update'): TSchema {
  const props: Record<string, TSchema> = {};
  for (const [col, kind] of Object.entries(def.columns)) {
    const required = mode === 'create' && def.required.includes(col);
    const value = def.required.includes(col) ? COLUMN_SCHEMA[kind]() : Type.Union([COLUMN_SCHEMA[kind](), Type.Null()]);
    props[col] = required ? value : Type.Optional(value);
  }
  return Type.Object(props, { additionalProperties: false, description: `Attributes of a ${def.type} node.` });
}

/** Per node type, the attributes it takes on create (required ones required) and on update (all optional; required ones not null). */
export const NodeAttributesSchema: Record<NodeType, { create: TSchema; update: TSchema }> = Object.fromEntries(
  NODE_TYPES.map((t) => [t, { create: attributesSchema(NODE_DEFS[t], 'create'), update: attributesSchema(NODE_DEFS[t], 'update') }]),
) as Record<NodeType, { create: TSchema; update: TSchema }>;

/** An edge endpoint: the entity's external id, or `{ nodeId }`. */
export const EdgeEndpointSchema = Type.Union(
  [
    Type.String({ ...ENDPOINT_ID, description: "The entity's external id." }),
    Type.Object({ nodeId: NodeIdSchema }, { additionalProperties: false, description: 'A graph node id.' }),
  ],
  { description: 'External id, or { nodeId }.' },
);

/**
 * An edge to add or remove: addEdge / removeEdge(edge_type, src, dst), the body of POST and
 * DELETE /api/graph/edges and `seedcore graph edge add|remove <edge_type> <src> <dst>`.
 */
export const EdgeInputSchema = Type.Object(
  {
    edge_type: Type.Union(
      EDGE_DEFS.map((e) => Type.Literal(e.name)),
      { description: '`<src type>__<relation>__<dst type>` (`seedcore graph types` lists them).' },
    ),
    src: EdgeEndpointSchema,
    dst: EdgeEndpointSchema,
  },
  { additionalProperties: false, description: 'A graph edge.' },
);

export type EdgeInput = Static<typeof EdgeInputSchema>;

/** A node as every face returns it. */
export const GraphNodeSchema = Type.Object(
  { node_id: Type.Integer(), node_type: Type.String(), ext_id: Type.String() },
  { description: 'A graph node: its id, its type and the key of its entity.' },
);

/** A node with its entity's row, as getNode returns it and GET /api/graph/nodes/… answers. */
export const GraphNodeWithAttributesSchema = Type.Object(
  { ...GraphNodeSchema.properties, attributes: Type.Record(Type.String(), Type.Unknown(), { description: "The entity's row, every column." }) },
  { description: 'A graph node with its attributes.' },
);

/** An added edge, as every face returns it. */
export const GraphEdgeSchema = Type.Object(
  { edge_type: Type.String(), src: GraphNodeSchema, dst: GraphNodeSchema, created: Type.Boolean({ description: 'False when the edge already existed.' }) },
  { description: 'A graph edge.' },
);
