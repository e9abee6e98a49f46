/**
 * Agent memory over the seed's `memory_cell` table: one row per version of a (scope, key),
 * unique on (scope, mkey, version), the JSON value in `props`. A put never changes a row: it
 * inserts the next version, so every version stays readable (and the graph keeps one node per
 * version, with the task that wrote it and the agents that own it).
 *
 * A put with `expectedVersion` is a compare-and-set done by the unique key: it inserts version
 * expectedVersion + 1 only when expectedVersion is the latest (ON CONFLICT DO NOTHING). Two
 * writers with the same expected version race for the same key; the database lets exactly one
 * insert it, the other inserts nothing and gets SEEDCORE_CONFLICT. Without it, a put takes the
 * next free version (retrying when a concurrent writer took that one).
 *
 * Bound to a running task (ctx.memory), a get writes a `task_reads_memory` edge to the version
 * read, a put a `task_writes_memory` edge to the version written and `agent_owns_memory_cell`
 * edges from the owning agents, in the put's transaction. The edge tables' insert triggers map
 * both endpoints into graph_node_map, so the edges appear in `hgnn_edges` at once.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Db, Queryable } from '../db/types.js';
import { SeedCoreError, fromDbError, invalidInput } from '../errors.js';
import { Page } from '../tasks/rows.js';

export const MAX_SCOPE_LENGTH = 200;
export const MAX_KEY_LENGTH = 500;
/** Largest stored value (its JSON text), in bytes. */
export const MAX_VALUE_BYTES = 1024 * 1024;
const MAX_PAGE = 1000;
/** Unconditional puts retry this often when concurrent writers keep taking the next version. */
const PUT_RETRIES = 50;

export const MemoryCellSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'memory_cell_id of this version (its graph node).' }),
  scope: Type.String(),
  key: Type.String(),
  version: Type.Integer({ minimum: 1 }),
  value: Type.Unknown({ description: 'The JSON value of this version (memory_cell.props).' }),
  createdAt: Type.String({ description: 'ISO 8601 time the version was written.' }),
  writtenBy: Type.Union([Type.String(), Type.Null()], { description: 'The task that wrote this version (task_writes_memory), if any.' }),
  owners: Type.Array(Type.String(), { description: 'Agents that own this version (agent_owns_memory_cell).' }),
});
export type MemoryCell = Static<typeof MemoryCellSchema>;
export const MemoryPageSchema = Page(MemoryCellSchema);
export interface MemoryPage {
  items: MemoryCell[];
  nextCursor: string | null;
}

export interface PutMemoryOptions {
  /**
   * The version the writer last read (0: the key must not exist yet). When the latest version
   * is another one, nothing is written and the put throws SEEDCORE_CONFLICT.
   */
  expectedVersion?: number;
  /** The task writing (task_writes_memory edge). */
  taskId?: string;
  /** Agents that own the new version (agent_owns_memory_cell edges; unknown agents are registered). */
  agentIds?: readonly string[];
}

/** Memory access bound to one running task: `ctx.memory`. */
export interface TaskMemory {
  /** The latest version of (scope, key), or null; recorded as read by the task. */
  get(scope: string, key: string): Promise<MemoryCell | null>;
  /** Write the next version; SEEDCORE_CONFLICT when `expectedVersion` is not the latest. */
  put(scope: string, key: string, value: unknown, options?: { expectedVersion?: number }): Promise<MemoryCell>;
}

interface CellRow {
  id: string;
  scope: string;
  key: string;
  version: number;
  value: unknown;
  created_at: Date | string;
  written_by: string | null;
  owners: string[] | null;
}

const CELL_COLUMNS = `m.memory_cell_id::text AS id, m.scope, m.mkey AS key, m.version, m.props AS value, m.created_at,
  (SELECT w.task_id::text FROM task_writes_memory w WHERE w.memory_cell_id = m.memory_cell_id ORDER BY w.id LIMIT 1) AS written_by,
  ARRAY(SELECT o.agent_id FROM agent_owns_memory_cell o WHERE o.memory_cell_id = m.memory_cell_id ORDER BY o.agent_id) AS owners`;

function toCell(r: CellRow): MemoryCell {
  return {
    id: r.id,
    scope: r.scope,
    key: r.key,
    version: r.version,
    value: r.value ?? null,
    createdAt: new Date(r.created_at).toISOString(),
    writtenBy: r.written_by,
    owners: r.owners ?? [],
  };
}

function checkName(v: unknown, path: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || v.includes('\u0000'))
    throw invalidInput(`${path}: expected a string of 1 to ${max} characters without NUL, got ${JSON.stringify(v)}`, {
      path,
      expected: `a string of 1 to ${max} characters`,
      got: typeof v === 'string' ? `${v.length} characters` : typeof v,
    });
  return v;
}

function checkVersion(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2_147_483_646)
    throw invalidInput(`${path}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`, { path, expected: `an integer ≥ ${min}`, got: String(v) });
  return v;
}

function valueJson(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw invalidInput(`value: expected a JSON-serialisable value, got an error: ${(e as Error).message}`, { path: 'value', expected: 'a JSON value' });
  }
  if (json === undefined) throw invalidInput('value: expected a JSON value, got undefined', { path: 'value', expected: 'a JSON value', got: 'undefined' });
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_VALUE_BYTES)
    throw invalidInput(`value: expected at most ${MAX_VALUE_BYTES} bytes of JSON, got ${bytes}`, {
      path: 'value',
      expected: `≤ ${MAX_VALUE_BYTES} bytes`,
      got: String(bytes),
    });
  // jsonb cannot store the \u0000 escape.
  if (json.includes('\\u0000')) throw invalidInput('value: expected JSON without \\u0000 (jsonb cannot store it)', { path: 'value', expected: 'no \\u0000' });
  return json;
}

function checkLimit(v: unknown): number {
  if (v === undefined) return 100;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_PAGE)
    throw invalidInput(`limit: expected an integer between 1 and ${MAX_PAGE}, got ${JSON.stringify(v)}`, {
      path: 'limit',
      expected: `1..${MAX_PAGE}`,
      got: String(v),
    });
  return v;
}

/** The latest version of (scope, key), or a given version; null when there is none. */
export async function getMemory(db: Queryable, scope: string, key: string, options: { version?: number } = {}): Promise<MemoryCell | null> {
  const s = checkName(scope, 'scope', MAX_SCOPE_LENGTH);
  const k = checkName(key, 'key', MAX_KEY_LENGTH);
  const version = options.version === undefined ? null : checkVersion(options.version, 'version', 1);
  try {
    // Served by the unique index (scope, mkey, version): a backward scan, first row.
    const { rows } = await db.query<CellRow>(
      `SELECT ${CELL_COLUMNS} FROM memory_cell m
        WHERE m.scope = $1 AND m.mkey = $2 AND ($3::int IS NULL OR m.version = $3::int)
        ORDER BY m.version DESC LIMIT 1`,
      [s, k, version],
    );
    return rows[0] ? toCell(rows[0]) : null;
  } catch (e) {
    throw fromDbError(e, 'memory get');
  }
}

/**
 * Write the next version of (scope, key) and its edges in one transaction. With
 * `expectedVersion` the write happens only when that is the latest version (0: none yet);
 * otherwise SEEDCORE_CONFLICT with details { scope, key, expectedVersion, currentVersion }.
 */
export async function putMemory(db: Db, scope: string, key: string, value: unknown, options: PutMemoryOptions = {}): Promise<MemoryCell> {
  const s = checkName(scope, 'scope', MAX_SCOPE_LENGTH);
  const k = checkName(key, 'key', MAX_KEY_LENGTH);
  const json = valueJson(value);
  const expected = options.expectedVersion === undefined ? undefined : checkVersion(options.expectedVersion, 'expectedVersion', 0);
  const agents = [...new Set((options.agentIds ?? []).map((a, i) => checkName(a, `agentIds.${i}`, MAX_KEY_LENGTH)))].sort();
  const taskId = options.taskId;
  let conflict: SeedCoreError | undefined;
  let cell: MemoryCell | undefined;
  try {
    await db.transaction(async (tx) => {
      let inserted: { id: string } | undefined;
      for (let attempt = 0; attempt < PUT_RETRIES && !inserted; attempt++) {
        // Each statement reads a fresh snapshot (READ COMMITTED), so a retry sees the
        // version a concurrent writer just committed. ON CONFLICT DO NOTHING waits for a
        // concurrent insert of the same version to commit or roll back, then skips: the
        // transaction stays usable and the loser learns it lost.
        const r = await tx.query<{ id: string }>(
          `INSERT INTO memory_cell (scope, mkey, version, props)
           SELECT $1, $2, coalesce(max(m.version), 0) + 1, $3::jsonb FROM memory_cell m WHERE m.scope = $1 AND m.mkey = $2
           HAVING $4::int IS NULL OR coalesce(max(m.version), 0) = $4::int
           ON CONFLICT (scope, mkey, version) DO NOTHING
           RETURNING memory_cell_id::text AS id`,
          [s, k, json, expected ?? null],
        );
        inserted = r.rows[0];
        if (!inserted && expected !== undefined) {
          const cur = await tx.query<{ v: number }>('SELECT coalesce(max(version), 0)::int AS v FROM memory_cell WHERE scope = $1 AND mkey = $2', [s, k]);
          const currentVersion = cur.rows[0]?.v ?? 0;
          conflict = new SeedCoreError(
            'SEEDCORE_CONFLICT',
            `memory ${s}/${k}: expected version ${expected}, but the latest is ${currentVersion === expected ? `${expected} and another writer is writing ${expected + 1}` : currentVersion}`,
            { details: { scope: s, key: k, expectedVersion: expected, currentVersion } },
          );
          return;
        }
      }
      if (!inserted) throw new SeedCoreError('SEEDCORE_CONFLICT', `memory ${s}/${k}: ${PUT_RETRIES} concurrent writers took every next version; try again`);
      if (taskId !== undefined)
        await tx.query('INSERT INTO task_writes_memory (task_id, memory_cell_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT DO NOTHING', [taskId, inserted.id]);
      if (agents.length > 0) {
        await tx.query('INSERT INTO agent_registry (agent_id) SELECT a FROM unnest($1::text[]) a ORDER BY a ON CONFLICT DO NOTHING', [agents]);
        await tx.query(
          'INSERT INTO agent_owns_memory_cell (agent_id, memory_cell_id) SELECT a, $2::uuid FROM unnest($1::text[]) a ORDER BY a ON CONFLICT DO NOTHING',
          [agents, inserted.id],
        );
      }
      const { rows } = await tx.query<CellRow>(`SELECT ${CELL_COLUMNS} FROM memory_cell m WHERE m.memory_cell_id = $1::uuid`, [inserted.id]);
      cell = toCell(rows[0] as CellRow);
    });
  } catch (e) {
    throw fromDbError(e, 'memory put');
  }
  if (conflict) throw conflict;
  return cell as MemoryCell;
}

function encodeCursor(parts: unknown[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

function decodeCursor(cursor: string, shape: (p: unknown[]) => boolean): unknown[] {
  try {
    const p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(p) && shape(p)) return p;
  } catch {
    // fall through
  }
  throw invalidInput(`cursor: expected a nextCursor of an earlier page, got ${JSON.stringify(cursor)}`, {
    path: 'cursor',
    expected: 'a nextCursor',
    got: cursor,
  });
}

/** Every version of (scope, key), newest first. */
export async function listMemoryVersions(db: Queryable, scope: string, key: string, options: { limit?: number; cursor?: string } = {}): Promise<MemoryPage> {
  const s = checkName(scope, 'scope', MAX_SCOPE_LENGTH);
  const k = checkName(key, 'key', MAX_KEY_LENGTH);
  const limit = checkLimit(options.limit);
  const before = options.cursor === undefined ? null : (decodeCursor(options.cursor, (p) => p.length === 1 && Number.isInteger(p[0]))[0] as number);
  try {
    const { rows } = await db.query<CellRow>(
      `SELECT ${CELL_COLUMNS} FROM memory_cell m
        WHERE m.scope = $1 AND m.mkey = $2 AND ($3::int IS NULL OR m.version < $3::int)
        ORDER BY m.version DESC LIMIT $4`,
      [s, k, before, limit + 1],
    );
    const items = rows.slice(0, limit).map(toCell);
    return { items, nextCursor: rows.length > limit ? encodeCursor([items[items.length - 1]?.version]) : null };
  } catch (e) {
    throw fromDbError(e, 'memory versions');
  }
}

/** The latest version of every key (of one scope, or of all), ordered by scope and key. */
export async function listMemory(db: Queryable, options: { scope?: string; prefix?: string; limit?: number; cursor?: string } = {}): Promise<MemoryPage> {
  const scope = options.scope === undefined ? null : checkName(options.scope, 'scope', MAX_SCOPE_LENGTH);
  const prefix = options.prefix === undefined ? null : checkName(options.prefix, 'prefix', MAX_KEY_LENGTH);
  const limit = checkLimit(options.limit);
  const after =
    options.cursor === undefined
      ? null
      : (decodeCursor(options.cursor, (p) => p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string') as string[]);
  try {
    // DISTINCT ON walks the unique index (scope, mkey, version) in order.
    const { rows } = await db.query<CellRow>(
      `SELECT ${CELL_COLUMNS} FROM (
         SELECT DISTINCT ON (scope, mkey) * FROM memory_cell
          WHERE ($1::text IS NULL OR scope = $1)
            AND ($2::text IS NULL OR left(mkey, length($2)) = $2)
            AND ($3::text IS NULL OR (scope, mkey) > ($3::text, $4::text))
          ORDER BY scope, mkey, version DESC
          LIMIT $5) m
        ORDER BY m.scope, m.mkey`,
      [scope, prefix, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    const items = rows.slice(0, limit).map(toCell);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.scope, last.key]) : null };
  } catch (e) {
    throw fromDbError(e, 'memory list');
  }
}

/**
 * The agents that own what a task writes: the task's agents (task_owned_by_agent), else the
 * agent of the organ executing it (the worker's organ option).
 */
async function owningAgents(db: Queryable, taskId: string, organAgentId: string | undefined): Promise<string[]> {
  const { rows } = await db.query<{ agent_id: string }>('SELECT agent_id FROM task_owned_by_agent WHERE task_id = $1::uuid ORDER BY agent_id', [taskId]);
  if (rows.length > 0) return rows.map((r) => r.agent_id);
  return organAgentId !== undefined ? [organAgentId] : [];
}

/** The TaskMemory a running task's handler gets as `ctx.memory`. */
export function createTaskMemory(db: Db, taskId: string, organAgentId?: string): TaskMemory {
  let owners: Promise<string[]> | undefined;
  return {
    async get(scope, key) {
      const cell = await getMemory(db, scope, key);
      if (cell) {
        try {
          await db.query('INSERT INTO task_reads_memory (task_id, memory_cell_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT DO NOTHING', [taskId, cell.id]);
        } catch (e) {
          throw fromDbError(e, 'memory get');
        }
      }
      return cell;
    },
    async put(scope, key, value, options = {}) {
      owners ??= owningAgents(db, taskId, organAgentId).catch((e: unknown) => {
        owners = undefined;
        throw fromDbError(e, 'memory put');
      });
      const agentIds = await owners;
      return putMemory(db, scope, key, value, { ...options, taskId, agentIds });
    },
  };
}

/** ctx.memory of a context with no task row (a handler called directly): unavailable. */
export function unavailableTaskMemory(): TaskMemory {
  const no = (): Promise<never> =>
    Promise.reject(new SeedCoreError('SEEDCORE_UNAVAILABLE', 'ctx.memory needs a task claimed by a dispatcher (this context has no task row)'));
  return { get: no, put: no };
}
