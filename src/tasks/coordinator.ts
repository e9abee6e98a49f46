/**
 * The Coordinator: creates tasks and manages them (get, list, cancel, retry, cleanup).
 * Dispatchers (dispatcher.ts) execute them.
 */
import type { Db, Queryable, Tx } from '../db/types.js';
import { SeedCoreError, invalidInput, notFound } from '../errors.js';
import { cancelDependents } from './dependencies.js';
import { Type, type Static } from '@sinclair/typebox';
import { assertSchema, isTimestamp } from '../schema-check.js';
import { TASK_COLUMNS, TaskStatusSchema, type TaskRow } from './rows.js';
import { submitTasks } from './submit.js';
import { TASK_STATUSES, type TaskStatus } from './types.js';
import { isUuid, parseTimestamp, type SubmitTaskInput } from './validate.js';
import { emitTaskEvent } from './durable/events.js';
import { durableView, type DurableView } from './durable/inspect.js';

/** Filters and paging of a task list (the library's options; the HTTP query string). */
export const TaskListQuerySchema = Type.Object(
  {
    status: Type.Optional(Type.Array(TaskStatusSchema, { maxItems: TASK_STATUSES.length, description: 'Any of these statuses (repeat the parameter).' })),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    domain: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    waiting: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 406,
        pattern: '^(?:any|sleep|event|tasks|event:.+)$',
        description: 'Only suspended durable tasks: any, sleep, event (any event), event:NAME (that event) or tasks (child tasks).',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'Page size.' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page.' })),
  },
  { additionalProperties: false },
);

/** A task id or a prefix of one: hex digits, with dashes only where a UUID has them. */
export const TaskIdSchema = Type.String({
  minLength: 4,
  maxLength: 36,
  pattern:
    '^(?:[0-9a-fA-F]{4,7}|[0-9a-fA-F]{8}(?:-(?:[0-9a-fA-F]{0,3}|[0-9a-fA-F]{4}(?:-(?:[0-9a-fA-F]{0,3}|[0-9a-fA-F]{4}(?:-(?:[0-9a-fA-F]{0,3}|[0-9a-fA-F]{4}(?:-[0-9a-fA-F]{0,12})?))?))?))?)$',
  description: 'A task id or a unique prefix of at least 4 hex digits (dashes only in their UUID places).',
});

const ID_PREFIX = new RegExp(TaskIdSchema.pattern as string);

export interface SubmitOptions {
  /** Run inside the caller's open transaction (the caller commits or rolls back). */
  tx?: Queryable;
}

export type ListTasksOptions = Omit<Static<typeof TaskListQuerySchema>, 'status'> & {
  /** One status or several. */
  status?: TaskStatus | TaskStatus[] | undefined;
};

/** One page of tasks, newest first: the `{ items, nextCursor }` shape of every list. */
export interface TaskPage {
  items: TaskRow[];
  /** Pass as `cursor` for the next (older) page; null when this was the last page. */
  nextCursor: string | null;
}

/** Task counts by status. */
export type TaskStats = Record<TaskStatus, number>;

/** `[low, high]` UUID bounds for a hex prefix, so the primary key index serves prefix look-ups. */
function prefixRange(prefix: string): [string, string] {
  const hex = prefix.replace(/-/g, '').toLowerCase();
  const fmt = (h: string): string => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return [fmt(hex.padEnd(32, '0')), fmt(hex.padEnd(32, 'f'))];
}

export class TaskCoordinator {
  constructor(protected readonly db: Db) {}

  /** Submit one task; returns its row (status `queued`, or `created` while dependencies are unfinished). */
  async submit(input: SubmitTaskInput, options: SubmitOptions = {}): Promise<TaskRow> {
    const rows = await submitTasks(this.db, [input], options.tx);
    return rows[0] as TaskRow;
  }

  /** Submit many tasks at once (one statement without dependencies or bindings); rows in input order. */
  submitMany(inputs: SubmitTaskInput[], options: SubmitOptions = {}): Promise<TaskRow[]> {
    return submitTasks(this.db, inputs, options.tx);
  }

  /** Resolve a full id or a unique prefix (≥ 4 hex characters) to a task id. */
  async resolveId(idOrPrefix: string, q: Queryable = this.db): Promise<string> {
    if (typeof idOrPrefix !== 'string' || !ID_PREFIX.test(idOrPrefix))
      throw invalidInput(`not a task id or id prefix (≥ 4 hex digits, dashes only in their UUID places): ${JSON.stringify(String(idOrPrefix).slice(0, 80))}`, {
        path: 'id',
        expected: 'a task id or a prefix of ≥ 4 hex digits',
        got: String(idOrPrefix).slice(0, 80),
      });
    if (isUuid(idOrPrefix)) return idOrPrefix.toLowerCase();
    const [lo, hi] = prefixRange(idOrPrefix);
    const res = await q.query<{ id: string }>('SELECT id FROM tasks WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY id LIMIT 2', [lo, hi]);
    if (res.rows.length === 0) throw notFound(`no task with id prefix '${idOrPrefix}'`);
    if (res.rows.length > 1)
      throw new SeedCoreError('SEEDCORE_AMBIGUOUS_ID', `id prefix '${idOrPrefix}' matches more than one task; give more characters`, {
        details: { prefix: idOrPrefix },
      });
    return (res.rows[0] as { id: string }).id;
  }

  /** A task by id or unique id prefix; SEEDCORE_NOT_FOUND / SEEDCORE_AMBIGUOUS_ID otherwise. */
  async get(idOrPrefix: string): Promise<TaskRow> {
    const id = await this.resolveId(idOrPrefix);
    const res = await this.db.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`, [id]);
    if (res.rows.length === 0) throw notFound(`task ${id} not found`);
    return res.rows[0] as TaskRow;
  }

  /** Newest first, keyset-paginated by (created_at, id). */
  async list(options: ListTasksOptions = {}): Promise<TaskPage> {
    const q = { ...options, ...(options.status !== undefined && !Array.isArray(options.status) ? { status: [options.status] } : {}) };
    assertSchema(TaskListQuerySchema, q);
    const limit = q.limit ?? 50;
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.status !== undefined) {
      params.push(q.status);
      where.push(`status = ANY($${params.length}::taskstatus[])`);
    }
    if (options.type !== undefined) {
      params.push(options.type);
      where.push(`type = $${params.length}`);
    }
    if (options.domain !== undefined) {
      params.push(options.domain);
      where.push(`domain = $${params.length}`);
    }
    if (options.waiting !== undefined) {
      // Every form implies waiting_for IS NOT NULL, the predicate of the partial index
      // idx_tasks_waiting (migration 018), so suspended tasks are found without a scan.
      if (options.waiting === 'any') where.push('waiting_for IS NOT NULL');
      else if (options.waiting === 'event' || options.waiting === 'tasks') {
        params.push(`${options.waiting}:`);
        where.push(`waiting_for IS NOT NULL AND starts_with(waiting_for, $${params.length})`);
      } else {
        params.push(options.waiting);
        where.push(`waiting_for = $${params.length}`);
      }
    }
    if (options.cursor !== undefined) {
      const [ts, id] = decodeCursor(options.cursor);
      params.push(ts, id);
      where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    }
    params.push(limit + 1);
    const res = await this.db.query<TaskRow & { cursor_ts: string }>(
      `SELECT ${TASK_COLUMNS}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts
         FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    const more = res.rows.length > limit;
    const rows = res.rows.slice(0, limit);
    const last = rows[rows.length - 1];
    const items = rows.map(({ cursor_ts: _c, ...r }) => r as TaskRow);
    return { items, nextCursor: more && last ? Buffer.from(`${last.cursor_ts}|${last.id}`).toString('base64url') : null };
  }

  /**
   * Cancel a task that has not ended. A running task's handler sees its signal fire at once
   * (NOTIFY seedcore_task_cancel) or at the latest at the worker's next lease renewal (one
   * heartbeat interval); its outcome is then discarded (compare-and-set). Dependents waiting on it are cancelled too, transitively.
   */
  async cancel(idOrPrefix: string, reason = 'cancelled by request'): Promise<TaskRow> {
    return this.db.transaction(async (tx: Tx) => {
      const id = await this.resolveId(idOrPrefix, tx);
      const res = await tx.query<TaskRow>(
        `UPDATE tasks SET status = 'cancelled', lease_expires_at = NULL, updated_at = now(), error = concat_ws(' | ', error, $2::text)
          WHERE id = $1 AND status IN ('created', 'queued', 'retry', 'running')
          RETURNING ${TASK_COLUMNS}, (status = 'cancelled' AND owner_id IS NOT NULL) AS was_running`,
        [id, reason],
      );
      if (res.rows.length === 0) throw await this.notActive(tx, id, 'cancel');
      await cancelDependents(tx, [id]);
      const { was_running: wasRunning, ...row } = res.rows[0] as TaskRow & { was_running: boolean };
      // Wake the owning worker now (delivered at commit); its lease renewal would notice
      // within one heartbeat anyway.
      if (wasRunning) await tx.query("SELECT pg_notify('seedcore_task_cancel', $1)", [id]);
      return row as TaskRow;
    });
  }

  /**
   * Run a failed or cancelled task again: attempts are reset to 0 (a fresh budget of
   * max_attempts executions), error and result cleared. It becomes `queued`, or `created` if
   * dependencies are still unfinished; a dependency that failed or was cancelled must be
   * retried first (SEEDCORE_CONFLICT). Dependents cancelled because of it stay cancelled.
   */
  async retry(idOrPrefix: string, options: { runAfter?: Date | string } = {}): Promise<TaskRow> {
    const runAfter = options.runAfter === undefined ? null : parseTimestamp('retry', 'runAfter', options.runAfter);
    return this.db.transaction(async (tx: Tx) => {
      const id = await this.resolveId(idOrPrefix, tx);
      const deps = await tx.query<{ id: string; status: string }>(
        `SELECT p.id, p.status::text AS status FROM task_depends_on_task e JOIN tasks p ON p.id = e.dst_task_id WHERE e.src_task_id = $1 ORDER BY p.id FOR SHARE OF p`,
        [id],
      );
      const dead = deps.rows.filter((d) => d.status === 'failed' || d.status === 'cancelled');
      if (dead.length > 0)
        throw new SeedCoreError('SEEDCORE_CONFLICT', `retry the dependencies first: ${dead.map((d) => `${d.id} (${d.status})`).join(', ')}`, {
          details: { dependencies: dead.map((d) => d.id) },
        });
      const next = deps.rows.every((d) => d.status === 'completed') ? 'queued' : 'created';
      const res = await tx.query<TaskRow>(
        `UPDATE tasks SET status = $2::taskstatus, attempts = 0, run_after = $3::timestamptz, result = NULL, error = NULL,
                owner_id = NULL, locked_by = NULL, locked_at = NULL, lease_expires_at = NULL, last_heartbeat = NULL, updated_at = now()
          WHERE id = $1 AND status IN ('failed', 'cancelled')
          RETURNING ${TASK_COLUMNS}, pg_notify('seedcore_tasks', '') AS notified`,
        [id, next, runAfter],
      );
      if (res.rows.length === 0) throw await this.notActive(tx, id, 'retry', true);
      const { notified: _n, ...row } = res.rows[0] as TaskRow & { notified: unknown };
      return row as TaskRow;
    });
  }

  /** Count of tasks in each status. */
  async stats(): Promise<TaskStats> {
    const res = await this.db.query<{ status: TaskStatus; n: number }>('SELECT status::text AS status, count(*)::int AS n FROM tasks GROUP BY status');
    const out = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as TaskStats;
    for (const r of res.rows) out[r.status] = r.n;
    return out;
  }

  /** Emit a durable-task event once (the first emit of a name wins): true when this call emitted it. */
  emitEvent(name: string, payload?: unknown): Promise<boolean> {
    return emitTaskEvent(this.db, name, payload);
  }

  /** A task's durable execution: its runs, completed steps and what it waits for. */
  async durable(idOrPrefix: string): Promise<DurableView> {
    return durableView(this.db, await this.resolveId(idOrPrefix));
  }

  /** The admin function `cleanup_stale_running_tasks`: number of running tasks recovered. */
  async cleanupStale(options: { staleMinutes?: number; maxAttempts?: number } = {}): Promise<number> {
    const res = await this.db.query<{ n: number }>('SELECT cleanup_stale_running_tasks($1, $2) AS n', [options.staleMinutes ?? 15, options.maxAttempts ?? 3]);
    return res.rows[0]?.n ?? 0;
  }

  private async notActive(q: Queryable, id: string, verb: string, wantEnded = false): Promise<SeedCoreError> {
    const res = await q.query<{ status: string }>('SELECT status::text AS status FROM tasks WHERE id = $1', [id]);
    const row = res.rows[0];
    if (!row) return notFound(`task ${id} not found`);
    return new SeedCoreError(
      'SEEDCORE_CONFLICT',
      wantEnded
        ? `cannot ${verb} task ${id}: it is ${row.status} (only failed or cancelled tasks can be retried)`
        : `cannot ${verb} task ${id}: it already ended ${row.status}`,
      { details: { status: row.status } },
    );
  }
}

// What list() encodes: created_at in UTC with microseconds, '|', the id.
const CURSOR_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** Only what list() produced: base64url that decodes to exactly its form (re-encoding must match). */
function decodeCursor(cursor: string): [string, string] {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = CURSOR_RE.exec(text);
  if (!m || Buffer.from(text).toString('base64url') !== cursor || !isTimestamp(m[1] as string) || !isUuid(m[2]))
    throw invalidInput('cursor: not a cursor returned by a task list (pass nextCursor back unchanged)', {
      path: 'cursor',
      expected: 'a nextCursor value',
      got: cursor.slice(0, 80),
    });
  return [m[1] as string, m[2] as string];
}
