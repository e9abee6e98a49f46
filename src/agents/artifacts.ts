/**
 * Artifacts (the seed's `artifact` table: a URI, a kind such as file, s3, vector or blob, and
 * JSON props) and the `task_produces_artifact` edge from the task that produced them. A
 * handler adds one with `ctx.artifacts.add(...)`: the row and its edge are written in one
 * transaction, and the edge's insert trigger maps both endpoints into graph_node_map, so the
 * edge appears in `hgnn_edges` at once. SeedCore stores where an artifact is, not its bytes.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Db, Queryable } from '../db/types.js';
import { SeedCoreError, fromDbError, invalidInput } from '../errors.js';
import { checkUuid } from '../facts/validate.js';
import { Page } from '../tasks/rows.js';

export const MAX_URI_LENGTH = 4000;
export const MAX_KIND_LENGTH = 200;
const MAX_PROPS_BYTES = 256 * 1024;
const MAX_PAGE = 1000;

export const ArtifactSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'artifact_id (its graph node).' }),
  uri: Type.String(),
  kind: Type.Union([Type.String(), Type.Null()], { description: 'e.g. file, s3, vector, blob.' }),
  props: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  createdAt: Type.String({ description: 'ISO 8601 time the artifact was added.' }),
  producedBy: Type.Array(Type.String(), { description: 'Tasks that produced it (task_produces_artifact).' }),
});
export type Artifact = Static<typeof ArtifactSchema>;
export const ArtifactPageSchema = Page(ArtifactSchema);
export interface ArtifactPage {
  items: Artifact[];
  nextCursor: string | null;
}

export interface ArtifactInput {
  uri: string;
  kind?: string | null;
  props?: Record<string, unknown> | null;
}

/** Artifacts bound to one running task: `ctx.artifacts`. */
export interface TaskArtifacts {
  /** Store an artifact produced by the task (artifact row + task_produces_artifact edge). */
  add(artifact: ArtifactInput): Promise<Artifact>;
}

interface ArtifactRow {
  id: string;
  uri: string;
  kind: string | null;
  props: Record<string, unknown> | null;
  created_at: Date | string;
  produced_by: string[] | null;
}

const COLUMNS = `a.artifact_id::text AS id, a.uri, a.kind, a.props, a.created_at,
  ARRAY(SELECT p.task_id::text FROM task_produces_artifact p WHERE p.artifact_id = a.artifact_id ORDER BY p.id) AS produced_by`;

function toArtifact(r: ArtifactRow): Artifact {
  return { id: r.id, uri: r.uri, kind: r.kind, props: r.props, createdAt: new Date(r.created_at).toISOString(), producedBy: r.produced_by ?? [] };
}

function checkInput(input: unknown): { uri: string; kind: string | null; props: string | null } {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw invalidInput(`artifact: expected an object { uri, kind?, props? }, got ${JSON.stringify(input)}`, { path: 'artifact', expected: 'an object' });
  const a = input as Record<string, unknown>;
  for (const k of Object.keys(a))
    if (!['uri', 'kind', 'props'].includes(k))
      throw invalidInput(`${k}: expected one of uri, kind, props`, { path: k, expected: 'uri, kind or props', got: k });
  const { uri, kind, props } = a;
  if (typeof uri !== 'string' || uri.trim() === '' || uri.length > MAX_URI_LENGTH || uri.includes('\u0000'))
    throw invalidInput(`uri: expected a non-empty string of at most ${MAX_URI_LENGTH} characters, got ${JSON.stringify(uri)}`, {
      path: 'uri',
      expected: `a non-empty string ≤ ${MAX_URI_LENGTH} characters`,
      got: typeof uri,
    });
  if (kind !== undefined && kind !== null && (typeof kind !== 'string' || kind.length === 0 || kind.length > MAX_KIND_LENGTH || kind.includes('\u0000')))
    throw invalidInput(`kind: expected a string of 1 to ${MAX_KIND_LENGTH} characters, got ${JSON.stringify(kind)}`, {
      path: 'kind',
      expected: `a string of 1 to ${MAX_KIND_LENGTH} characters`,
    });
  let propsJson: string | null = null;
  if (props !== undefined && props !== null) {
    if (typeof props !== 'object' || Array.isArray(props))
      throw invalidInput(`props: expected a JSON object, got ${JSON.stringify(props)}`, { path: 'props', expected: 'a JSON object' });
    try {
      propsJson = JSON.stringify(props);
    } catch (e) {
      throw invalidInput(`props: expected a JSON-serialisable object: ${(e as Error).message}`, { path: 'props', expected: 'a JSON object' });
    }
    if (Buffer.byteLength(propsJson) > MAX_PROPS_BYTES)
      throw invalidInput(`props: expected at most ${MAX_PROPS_BYTES} bytes of JSON`, { path: 'props', expected: `≤ ${MAX_PROPS_BYTES} bytes` });
    if (propsJson.includes('\\u0000'))
      throw invalidInput('props: expected JSON without \\u0000 (jsonb cannot store it)', { path: 'props', expected: 'no \\u0000' });
  }
  return { uri, kind: (kind as string | null | undefined) ?? null, props: propsJson };
}

/** Add an artifact, produced by `taskId` when given (the row and its edge in one transaction). */
export async function addArtifact(db: Db, input: ArtifactInput, options: { taskId?: string } = {}): Promise<Artifact> {
  const a = checkInput(input);
  const taskId = options.taskId === undefined ? undefined : checkUuid(options.taskId, 'taskId');
  try {
    return await db.transaction(async (tx) => {
      const ins = await tx.query<{ id: string }>('INSERT INTO artifact (uri, kind, props) VALUES ($1, $2, $3::jsonb) RETURNING artifact_id::text AS id', [
        a.uri,
        a.kind,
        a.props,
      ]);
      const id = (ins.rows[0] as { id: string }).id;
      if (taskId !== undefined) await tx.query('INSERT INTO task_produces_artifact (task_id, artifact_id) VALUES ($1::uuid, $2::uuid)', [taskId, id]);
      const { rows } = await tx.query<ArtifactRow>(`SELECT ${COLUMNS} FROM artifact a WHERE a.artifact_id = $1::uuid`, [id]);
      return toArtifact(rows[0] as ArtifactRow);
    });
  } catch (e) {
    throw fromDbError(e, 'artifact add');
  }
}

export async function getArtifact(db: Queryable, id: string): Promise<Artifact> {
  const artifactId = checkUuid(id, 'id');
  try {
    const { rows } = await db.query<ArtifactRow>(`SELECT ${COLUMNS} FROM artifact a WHERE a.artifact_id = $1::uuid`, [artifactId]);
    if (!rows[0]) throw new SeedCoreError('SEEDCORE_NOT_FOUND', `artifact ${artifactId} not found`, { details: { id: artifactId } });
    return toArtifact(rows[0]);
  } catch (e) {
    throw fromDbError(e, 'artifact get');
  }
}

/**
 * Artifacts newest first: all of them, those a task produced (`task`), and/or of one `kind`.
 * The cursor is the last item's (created_at, id).
 */
export async function listArtifacts(db: Queryable, options: { task?: string; kind?: string; limit?: number; cursor?: string } = {}): Promise<ArtifactPage> {
  const task = options.task === undefined ? null : checkUuid(options.task, 'task');
  const kind = options.kind ?? null;
  if (kind !== null && (typeof kind !== 'string' || kind.length === 0 || kind.length > MAX_KIND_LENGTH))
    throw invalidInput(`kind: expected a string of 1 to ${MAX_KIND_LENGTH} characters, got ${JSON.stringify(kind)}`, { path: 'kind', expected: 'a kind' });
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw invalidInput(`limit: expected an integer between 1 and ${MAX_PAGE}, got ${JSON.stringify(limit)}`, {
      path: 'limit',
      expected: `1..${MAX_PAGE}`,
      got: String(limit),
    });
  let after: [string, string] | null = null;
  if (options.cursor !== undefined) {
    try {
      const p = JSON.parse(Buffer.from(options.cursor, 'base64url').toString('utf8')) as unknown;
      if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && !Number.isNaN(Date.parse(p[0])) && typeof p[1] === 'string')
        after = [p[0], checkUuid(p[1])];
    } catch {
      after = null;
    }
    if (after === null)
      throw invalidInput(`cursor: expected a nextCursor of an earlier page, got ${JSON.stringify(options.cursor)}`, {
        path: 'cursor',
        expected: 'a nextCursor',
        got: options.cursor,
      });
  }
  try {
    const { rows } = await db.query<ArtifactRow & { created_exact: string }>(
      `SELECT ${COLUMNS}, a.created_at::text AS created_exact FROM artifact a
        WHERE ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM task_produces_artifact p WHERE p.task_id = $1::uuid AND p.artifact_id = a.artifact_id))
          AND ($2::text IS NULL OR a.kind = $2)
          AND ($3::timestamptz IS NULL OR (a.created_at, a.artifact_id) < ($3::timestamptz, $4::uuid))
        ORDER BY a.created_at DESC, a.artifact_id DESC
        LIMIT $5`,
      [task, kind, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toArtifact),
      // created_at as the database's text keeps microseconds (a JS Date has milliseconds).
      nextCursor: rows.length > limit && last ? Buffer.from(JSON.stringify([last.created_exact, last.id])).toString('base64url') : null,
    };
  } catch (e) {
    throw fromDbError(e, 'artifact list');
  }
}

/** The TaskArtifacts a running task's handler gets as `ctx.artifacts`. */
export function createTaskArtifacts(db: Db, taskId: string): TaskArtifacts {
  return { add: (artifact) => addArtifact(db, artifact, { taskId }) };
}

/** ctx.artifacts of a context with no task row (a handler called directly): unavailable. */
export function unavailableTaskArtifacts(): TaskArtifacts {
  return {
    add: () => Promise.reject(new SeedCoreError('SEEDCORE_UNAVAILABLE', 'ctx.artifacts needs a task claimed by a dispatcher (this context has no task row)')),
  };
}
