/**
 * Graph entities: create, update, delete and look up nodes of the 11 types. Entities live
 * in their own tables; graph_node_map gives each one its BIGINT node id (ensure_*_node).
 * Deleting an entity removes its node and, by FK cascade, its embedding (007 triggers).
 */
import type { Queryable, Db } from '../db/types.js';
import { SeedCoreError, invalidInput, notFound, sqlState } from '../errors.js';
import { assertSchema, got } from '../schema-check.js';
import {
  NODE_DEFS,
  NODE_TYPES,
  NodeAttributesSchema,
  NodeInputSchema,
  NodeKeySchema,
  NodeUpdateSchema,
  isNodeType,
  isUuid,
  type ColumnKind,
  type NodeType,
  type NodeTypeDef,
} from './schema.js';

/** A graph node: its canonical id, its type and the key of its entity. */
export interface GraphNode {
  node_id: number;
  node_type: NodeType;
  ext_id: string;
}

/** Names a node either by graph_node_map id or by type and external id. */
export type NodeRef = { nodeId: number | string } | { type: NodeType | string; id: string };

export type NodeAttributes = Record<string, unknown>;

interface NodeRow {
  node_id: number | string;
  node_type: string;
  ext_id: string;
}

export function toNode(r: NodeRow): GraphNode {
  return { node_id: Number(r.node_id), node_type: r.node_type as NodeType, ext_id: r.ext_id };
}

/** SEEDCORE_INVALID_INPUT naming the field (`path`), what was `expected` and what it `got`, as the schema checks do. */
function badField(path: string, expected: string, value: unknown, message: string, details: Record<string, unknown> = {}): SeedCoreError {
  return invalidInput(message, { ...details, path, expected, got: got(value) });
}

export function nodeTypeDef(type: unknown, path = 'type'): NodeTypeDef {
  if (!isNodeType(type))
    throw badField(path, `one of ${NODE_TYPES.join(', ')}`, type, `unknown node type '${String(type)}' (node types: ${NODE_TYPES.join(', ')})`, {
      node_type: type,
    });
  return NODE_DEFS[type];
}

/** Validate an external id for a node type: uuid-keyed types need a uuid, text keys must be non-blank. */
export function checkExtId(def: NodeTypeDef, id: unknown, path = 'id'): string {
  if (typeof id !== 'string' || id.trim() === '')
    throw badField(path, 'a non-blank string', id, `${def.type} id must be a non-empty string`, { node_type: def.type, id });
  if (def.keyKind === 'uuid' && !isUuid(id)) throw badField(path, 'a UUID', id, `${def.type} id must be a uuid (got '${id}')`, { node_type: def.type, id });
  return id;
}

/**
 * The one check of a node key (NodeKeySchema: the path parameters of /api/graph/nodes/:type/:id):
 * the type first, so an unknown one is named as such, then the id's shape and its key kind.
 */
export function checkNodeKey(type: unknown, id: unknown): NodeTypeDef {
  const def = nodeTypeDef(type);
  assertSchema(NodeKeySchema, { type: def.type, id });
  checkExtId(def, id);
  return def;
}

export function checkNodeId(id: unknown, path = 'nodeId'): number {
  const n = typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
    throw badField(path, 'a positive integer', id, `node id must be a positive integer (got ${JSON.stringify(id)})`);
  return n;
}

const NODE_COLS = `m.node_id, m.node_type, coalesce(m.ext_uuid::text, m.ext_text_id) AS ext_id`;

/** Nodes by id, in no particular order; missing ids are simply absent. */
export async function nodesById(q: Queryable, ids: readonly number[]): Promise<GraphNode[]> {
  if (ids.length === 0) return [];
  const r = await q.query<NodeRow>(`SELECT ${NODE_COLS} FROM graph_node_map m WHERE m.node_id = ANY($1::bigint[])`, [ids.map(String)]);
  return r.rows.map(toNode);
}

/** Look a node up without creating anything; undefined if the entity is not mapped. */
export async function findNode(q: Queryable, ref: NodeRef): Promise<GraphNode | undefined> {
  if ('nodeId' in ref) return (await nodesById(q, [checkNodeId(ref.nodeId)]))[0];
  const def = checkNodeKey(ref.type, ref.id);
  const id = ref.id;
  const col = def.keyKind === 'uuid' ? 'ext_uuid' : 'ext_text_id';
  const r = await q.query<NodeRow>(`SELECT ${NODE_COLS} FROM graph_node_map m WHERE m.node_type = $1 AND m.ext_table = $2 AND m.${col} = $3::${def.keyKind}`, [
    def.type,
    def.table,
    id,
  ]);
  return r.rows[0] ? toNode(r.rows[0]) : undefined;
}

/** The node of an existing entity, mapping it if needed; NOT_FOUND if the entity does not exist. */
export async function resolveNode(q: Queryable, ref: NodeRef): Promise<GraphNode> {
  if ('nodeId' in ref) {
    const n = await findNode(q, ref);
    if (!n) throw notFound(`graph node ${String(ref.nodeId)} does not exist`, { node_id: ref.nodeId });
    return n;
  }
  const def = checkNodeKey(ref.type, ref.id);
  const id = ref.id;
  const exists = await q.query(`SELECT 1 FROM ${def.table} WHERE ${def.key} = $1::${def.keyKind}`, [id]);
  if (exists.rowCount === 0) throw notFound(`${def.type} '${id}' does not exist`, { node_type: def.type, id });
  const r = await q.query<{ node_id: number | string }>('SELECT ensure_graph_node($1, $2) AS node_id', [def.type, id]);
  return { node_id: Number(r.rows[0]?.node_id), node_type: def.type, ext_id: id };
}

function castFor(kind: ColumnKind): string {
  return kind === 'int' ? 'integer' : kind;
}

/**
 * Check attributes against the type's schema (NodeAttributesSchema: known columns, their
 * kinds, required ones on create) and return [column, value-as-param] pairs.
 */
function checkAttributes(def: NodeTypeDef, attrs: NodeAttributes, mode: 'create' | 'update'): Array<[string, unknown]> {
  assertSchema(NodeAttributesSchema[def.type][mode], attrs, 'attributes');
  return Object.entries(attrs).map(([col, value]) => [col, value !== null && def.columns[col] === 'jsonb' ? JSON.stringify(value) : value]);
}

function mapWriteError(e: unknown, def: NodeTypeDef, what: string, id?: string): never {
  const state = sqlState(e instanceof SeedCoreError ? e.cause : e);
  if (state === '23505')
    throw new SeedCoreError(
      'SEEDCORE_CONFLICT',
      id !== undefined
        ? `${def.type} '${id}' already exists: create makes new entities only (update changes an existing one, get shows it)`
        : `${def.type} ${what}: an entity with this key already exists`,
      { cause: e, details: { node_type: def.type, ...(id !== undefined ? { id } : {}) } },
    );
  if (state === '23503' || state === '23001')
    throw new SeedCoreError('SEEDCORE_CONFLICT', `${def.type} ${what}: it references or is referenced by another entity (${(e as Error).message})`, {
      cause: e,
    });
  throw e;
}

/**
 * Create an entity and its node. Text-keyed types need `id`; uuid-keyed types take an
 * optional `id` (generated otherwise). Tasks are never created here: `createNode('task', …)`
 * maps an existing task (NOT_FOUND otherwise).
 */
export async function createNode(db: Db, type: string, id: string | undefined, attrs: NodeAttributes = {}): Promise<GraphNode> {
  // One schema for the input (NodeInputSchema: the body of POST /api/graph/nodes), then the
  // checks that depend on the type: its key kind and its attribute columns.
  assertSchema(NodeInputSchema, { type, ...(id !== undefined ? { id } : {}), attributes: attrs });
  const def = nodeTypeDef(type);
  if (!def.writable) {
    if (Object.keys(attrs).length > 0)
      throw badField(
        'attributes',
        'no attributes (change tasks through the task API)',
        attrs,
        'task nodes have no graph attributes; change tasks through the task API',
      );
    return resolveNode(db, { type: def.type, id: checkExtId(def, id) });
  }
  if (def.keyKind === 'text' || id !== undefined) checkExtId(def, id);
  const pairs = checkAttributes(def, attrs, 'create');
  // The key (when given) goes first; every value is cast to its column's type.
  const all: Array<[string, unknown, string]> = pairs.map(([c, v]) => [c, v, castFor(def.columns[c] as ColumnKind)]);
  if (id !== undefined) all.unshift([def.key, id, def.keyKind]);
  const cols = all.map(([c]) => c);
  const vals = all.map(([, v]) => v);
  const casts = all.map(([, , cast], i) => `$${i + 1}::${cast}`);
  const sql =
    cols.length > 0
      ? `INSERT INTO ${def.table} (${cols.join(', ')}) VALUES (${casts.join(', ')}) RETURNING ${def.key}::text AS id`
      : `INSERT INTO ${def.table} DEFAULT VALUES RETURNING ${def.key}::text AS id`;
  try {
    return await db.transaction(async (tx) => {
      const r = await tx.query<{ id: string }>(sql, vals);
      const extId = r.rows[0]?.id as string;
      const n = await tx.query<{ node_id: number | string }>('SELECT ensure_graph_node($1, $2) AS node_id', [def.type, extId]);
      return { node_id: Number(n.rows[0]?.node_id), node_type: def.type, ext_id: extId };
    });
  } catch (e) {
    mapWriteError(e, def, 'create failed', id);
  }
}

/** Update attributes of an existing entity; NOT_FOUND if it does not exist. */
export async function updateNode(db: Db, type: string, id: string, attrs: NodeAttributes): Promise<GraphNode> {
  assertSchema(NodeUpdateSchema, { type, id, attributes: attrs });
  const def = nodeTypeDef(type);
  checkExtId(def, id);
  if (!def.writable) throw badField('type', 'a node type other than task', type, 'task nodes have no graph attributes; change tasks through the task API');
  const pairs = checkAttributes(def, attrs, 'update');
  if (pairs.length === 0)
    throw badField('attributes', `at least one ${def.type} attribute`, attrs, `nothing to update: give at least one ${def.type} attribute`);
  const sets = pairs.map(([c], i) => `${c} = $${i + 2}::${castFor(def.columns[c] as ColumnKind)}`);
  try {
    return await db.transaction(async (tx) => {
      const r = await tx.query(`UPDATE ${def.table} SET ${sets.join(', ')} WHERE ${def.key} = $1::${def.keyKind}`, [id, ...pairs.map(([, v]) => v)]);
      if (r.rowCount === 0) throw notFound(`${def.type} '${id}' does not exist`, { node_type: def.type, id });
      return resolveNode(tx, { type: def.type, id });
    });
  } catch (e) {
    mapWriteError(e, def, 'update failed');
  }
}

/**
 * Delete an entity: its node, its edges and its embedding go with it, in one statement (the
 * edge tables cascade). Returns false if it did not exist. SEEDCORE_CONFLICT, with nothing
 * deleted, when another row still needs it (a capability or memory cell a task uses: those
 * edges restrict deletion; remove them first).
 */
export async function deleteNode(db: Db, type: string, id: string): Promise<boolean> {
  const def = checkNodeKey(type, id);
  if (!def.writable) throw badField('type', 'a node type other than task', type, 'tasks are deleted through the task API, not the graph');
  try {
    const r = await db.query(`DELETE FROM ${def.table} WHERE ${def.key} = $1::${def.keyKind}`, [id]);
    return r.rowCount > 0;
  } catch (e) {
    mapWriteError(e, def, 'delete refused');
  }
}

/** An entity row with its node id (undefined if it does not exist). */
export async function getNode(q: Queryable, ref: NodeRef): Promise<(GraphNode & { attributes: Record<string, unknown> }) | undefined> {
  const node = 'nodeId' in ref ? await findNode(q, ref) : await findNode(q, ref).then((n) => n ?? resolveIfExists(q, ref));
  if (!node) return undefined;
  const def = NODE_DEFS[node.node_type];
  const r = await q.query<{ j: Record<string, unknown> }>(`SELECT to_jsonb(e) AS j FROM ${def.table} e WHERE e.${def.key} = $1::${def.keyKind}`, [node.ext_id]);
  return r.rows[0] ? { ...node, attributes: r.rows[0].j } : undefined;
}

async function resolveIfExists(q: Queryable, ref: NodeRef): Promise<GraphNode | undefined> {
  try {
    return await resolveNode(q, ref);
  } catch (e) {
    if (e instanceof SeedCoreError && e.code === 'SEEDCORE_NOT_FOUND') return undefined;
    throw e;
  }
}
