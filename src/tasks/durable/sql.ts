/**
 * The durable primitives' calls: each is one statement calling a stored function of
 * migration 018, so the semantics live in the database and any client gets the same ones.
 * Every worker call is a compare-and-set on (task, owner, running): NULL back means the task
 * is no longer ours (lease lost, cancelled).
 */
import type { Queryable } from '../../db/types.js';
import { prepared } from '../prepared.js';

export type SleepOutcome = { status: 'done' } | { status: 'suspended'; wake_at: string };
export type EventOutcome =
  { status: 'emitted'; payload: unknown; emitted_at: string } | { status: 'timeout' } | { status: 'suspended'; wake_at: string | null };
export type ChildrenOutcome =
  | { status: 'completed'; results: unknown[] }
  | { status: 'failed'; child: string; child_status: string; error: string | null }
  | { status: 'suspended'; pending: number }
  | { status: 'invalid'; child: string };

/** A stored step: its result, and when it was stored (ms since the epoch, database clock). */
export interface Checkpoint {
  result: unknown;
  at: number;
}

/** All stored steps of a task, by name (one read per execution, at its first durable call). */
export async function loadCheckpoints(q: Queryable, taskId: string): Promise<Map<string, Checkpoint>> {
  const res = await prepared<{ name: string; result: unknown; at: number }>(
    q,
    'durable_load',
    'SELECT name, result, (extract(epoch FROM created_at) * 1000)::float8 AS at FROM task_checkpoints WHERE task_id = $1',
    [taskId],
  );
  return new Map(res.rows.map((r) => [r.name, { result: r.result, at: r.at }]));
}

/** The stored result (ours, or an overlapping execution's that came first); undefined = not ours. */
export async function saveCheckpoint(q: Queryable, taskId: string, owner: string, name: string, json: string): Promise<{ result: unknown } | undefined> {
  const res = await prepared<{ r: unknown }>(q, 'durable_save', 'SELECT save_task_checkpoint($1, $2, $3, $4::jsonb) AS r', [taskId, owner, name, json]);
  const r = res.rows[0]?.r;
  return r === null || r === undefined ? undefined : { result: r };
}

export async function sleepTask(
  q: Queryable,
  taskId: string,
  owner: string,
  name: string,
  seconds: number | null,
  until: Date | null,
): Promise<SleepOutcome | undefined> {
  const res = await q.query<{ r: SleepOutcome | null }>('SELECT sleep_task($1, $2, $3, $4, $5) AS r', [taskId, owner, name, seconds, until]);
  return res.rows[0]?.r ?? undefined;
}

export async function awaitEvent(q: Queryable, taskId: string, owner: string, name: string, timeoutSeconds: number | null): Promise<EventOutcome | undefined> {
  const res = await q.query<{ r: EventOutcome | null }>('SELECT await_task_event($1, $2, $3, $4) AS r', [taskId, owner, name, timeoutSeconds]);
  return res.rows[0]?.r ?? undefined;
}

export async function spawnChild(
  q: Queryable,
  parentId: string,
  owner: string,
  name: string,
  type: string,
  paramsJson: string,
  optionsJson: string,
): Promise<string | undefined> {
  const res = await q.query<{ id: string | null }>('SELECT spawn_child_task($1, $2, $3, $4, $5::jsonb, $6::jsonb) AS id', [
    parentId,
    owner,
    name,
    type,
    paramsJson,
    optionsJson,
  ]);
  return res.rows[0]?.id ?? undefined;
}

export async function awaitChildren(q: Queryable, taskId: string, owner: string, ids: readonly string[]): Promise<ChildrenOutcome | undefined> {
  const res = await q.query<{ r: ChildrenOutcome | null }>('SELECT await_child_tasks($1, $2, $3::uuid[]) AS r', [taskId, owner, ids]);
  return res.rows[0]?.r ?? undefined;
}

/** Emit an event once: true when this call won (the first emit of the name). */
export async function emitEvent(q: Queryable, name: string, payloadJson: string): Promise<boolean> {
  const res = await q.query<{ won: boolean }>('SELECT emit_task_event($1, $2::jsonb) AS won', [name, payloadJson]);
  return res.rows[0]?.won === true;
}
