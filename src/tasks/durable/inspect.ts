/**
 * What a durable task has done and waits for: its runs (ended ones from task_runs, plus the
 * running one from the tasks row), its completed steps, and its wait. Used by
 * `seedcore tasks get`, `GET /api/tasks/:id` and `GET /api/tasks/:id/runs`.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Queryable } from '../../db/types.js';
import { notFound } from '../../errors.js';

const nullable = <T>(type: 'string' | 'integer' | 'number', options: Record<string, unknown> = {}) =>
  Type.Unsafe<T | null>({ type: [type, 'null'], ...options });
const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });

export const TaskRunSchema = Type.Object(
  {
    attempt: Type.Integer({ description: 'The attempt this execution counted as (suspensions give theirs back).' }),
    owner_id: nullable<string>('string', { description: 'The worker that ran it.' }),
    started_at: Timestamp,
    ended_at: nullable<Date>('string', { format: 'date-time', description: 'NULL while running.' }),
    outcome: Type.String({ description: 'running, completed, failed, retry, cancelled, suspended or released.' }),
    error: nullable<string>('string'),
    duration_seconds: nullable<number>('number'),
  },
  { additionalProperties: false },
);
export type TaskRun = Static<typeof TaskRunSchema>;

export const TaskStepSchema = Type.Object(
  {
    name: Type.String({ description: 'Step name as stored (repeats get #2, #3…; sleeps and spawns are $sleep#n / $spawn#n).' }),
    attempt: Type.Integer(),
    created_at: Timestamp,
  },
  { additionalProperties: false },
);

export const TaskWaitSchema = Type.Object(
  {
    kind: Type.String({ description: 'sleep, event or tasks.' }),
    event: nullable<string>('string'),
    wake_at: nullable<Date>('string', { format: 'date-time', description: 'When the sleep or the event timeout ends.' }),
    children: Type.Union([Type.Array(Type.String()), Type.Null()]),
  },
  { additionalProperties: false },
);

export const DurableViewSchema = Type.Object(
  {
    waiting_for: nullable<string>('string', { description: 'sleep, event:NAME or tasks:N while suspended; NULL otherwise.' }),
    parent_id: nullable<string>('string', { description: 'The task that spawned this one.' }),
    wait: Type.Union([TaskWaitSchema, Type.Null()]),
    steps: Type.Array(TaskStepSchema),
    runs: Type.Array(TaskRunSchema),
  },
  { additionalProperties: false, description: 'Durable execution: runs, completed steps and what the task waits for.' },
);
export type DurableView = Static<typeof DurableViewSchema>;

/** The runs of task `id`, oldest first; the running execution last with outcome 'running'. */
export async function taskRuns(q: Queryable, id: string): Promise<TaskRun[]> {
  const res = await q.query<TaskRun>(
    `SELECT attempt, owner_id, started_at, ended_at, outcome, error, duration_seconds FROM (
       SELECT r.attempt, r.owner_id, r.started_at, r.ended_at, r.outcome, r.error, r.duration_seconds FROM task_runs r WHERE r.task_id = $1
       UNION ALL
       SELECT t.attempts, t.owner_id, coalesce(t.locked_at, t.updated_at), NULL, 'running', NULL,
              extract(epoch FROM now() - coalesce(t.locked_at, t.updated_at))::float8
         FROM tasks t WHERE t.id = $1 AND t.status = 'running') x
      ORDER BY started_at, ended_at NULLS LAST`,
    [id],
  );
  return res.rows;
}

export async function durableView(q: Queryable, id: string): Promise<DurableView> {
  const [head, steps, runs] = await Promise.all([
    q.query<{
      waiting_for: string | null;
      parent_id: string | null;
      kind: string | null;
      event: string | null;
      wake_at: Date | null;
      children: string[] | null;
    }>(
      `SELECT t.waiting_for, t.parent_id, w.kind, w.event_name AS event, w.wake_at, w.child_ids::text[] AS children
         FROM tasks t LEFT JOIN task_waits w ON w.task_id = t.id WHERE t.id = $1`,
      [id],
    ),
    q.query<{ name: string; attempt: number; created_at: Date }>(
      'SELECT name, attempt, created_at FROM task_checkpoints WHERE task_id = $1 ORDER BY created_at, name',
      [id],
    ),
    taskRuns(q, id),
  ]);
  const h = head.rows[0];
  if (!h) throw notFound(`task ${id} not found`);
  return {
    waiting_for: h.waiting_for,
    parent_id: h.parent_id,
    wait: h.kind ? { kind: h.kind, event: h.event, wake_at: h.wake_at, children: h.children } : null,
    steps: steps.rows,
    runs,
  };
}

/** One human line per run / step / wait, for the CLI. */
export function durableLines(v: DurableView): string[] {
  const out: string[] = [];
  if (v.waiting_for) out.push(`waiting for:  ${v.waiting_for}${v.wait?.wake_at ? ` (until ${new Date(v.wait.wake_at).toISOString()})` : ''}`);
  if (v.parent_id) out.push(`parent:       ${v.parent_id}`);
  if (v.steps.length > 0) out.push(`steps:        ${v.steps.map((s) => s.name).join(', ')}`);
  for (const r of v.runs) {
    const d = r.duration_seconds === null ? '' : ` ${r.duration_seconds.toFixed(3)} s`;
    out.push(
      `run:          #${r.attempt} ${r.outcome}${d} on ${r.owner_id ?? '-'} at ${new Date(r.started_at).toISOString()}${r.error ? ` — ${r.error}` : ''}`,
    );
  }
  return out;
}
