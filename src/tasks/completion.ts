/**
 * Outcome statements: completing and failing attempts.
 *
 * Every state change by a worker is a compare-and-set on (id, owner_id, status = 'running'): a
 * worker whose lease was taken over, or whose task was cancelled, changes nothing. Every UPDATE
 * sets updated_at itself so the row trigger does not fire (see migration 001).
 *
 * KEEP IN STEP with migrations/020_worker_protocol.sql (the same semantics as stored functions
 * for workers in other languages).
 */
import type { Queryable } from '../db/types.js';
import { byOwner } from './lease.js';
import { prepared } from './prepared.js';

export interface Completion {
  id: string;
  owner: string;
  /** JSON text of the result. */
  result: string;
}

/**
 * Planner notes for the statements below and in lease.ts (they run as prepared statements, so they get a
 * generic plan whose row estimates know nothing of the arrays passed in):
 * - rows are found by `id = ANY($ids)` (primary key); `status::text = 'running'` keeps the
 *   planner from walking idx_tasks_running instead, which statistics taken while few tasks
 *   were running make look free;
 * - per-row values come from one JSON object keyed by id instead of a join with unnest(),
 *   which a generic plan turns into a nested loop (n² comparisons).
 */
function resultsObject(batch: readonly Completion[]): string {
  return `{${batch.map((c) => `${JSON.stringify(c.id)}:${c.result}`).join(',')}}`;
}

/**
 * Complete tasks with or without dependents through the worker protocol's complete_tasks()
 * (migration 020): one autocommit statement per owner (normally one) that writes the
 * compare-and-set and queues the dependents the batch releases, in the same transaction. The
 * dispatcher's completion path: one round trip whatever the batch holds. Returns the ids
 * written; the others lost their compare-and-set.
 */
export async function completeTasks(q: Queryable, batch: readonly Completion[]): Promise<Set<string>> {
  const written = new Set<string>();
  for (const [owner, list] of byOwner(batch)) {
    const res = await prepared<{ id: string }>(q, 'complete_tasks', 'SELECT id::text FROM complete_tasks($1, $2::jsonb) AS id', [owner, resultsObject(list)]);
    for (const r of res.rows) written.add(r.id);
  }
  return written;
}

/** Complete tasks (with or without dependents) inside the caller's transaction; returns the ids written. */
export async function completeAny(tx: Queryable, batch: readonly Completion[]): Promise<string[]> {
  const out: string[] = [];
  for (const [owner, list] of byOwner(batch)) {
    const res = await tx.query<{ id: string }>(
      `UPDATE tasks t
          SET status = 'completed', result = $2::jsonb -> t.id::text, error = NULL, owner_id = NULL, locked_by = NULL,
              locked_at = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE t.id = ANY ($1::uuid[]) AND t.owner_id = $3 AND t.status::text = 'running'
       RETURNING t.id`,
      [list.map((c) => c.id), resultsObject(list), owner],
    );
    for (const r of res.rows) out.push(r.id);
  }
  return out;
}

export interface Failure {
  id: string;
  owner: string;
  error: string;
  /** Delay before the next attempt, when there is one. */
  delayMs: number;
  /** The task goes to `failed` when attempts >= this (the task's own max_attempts wins when set; 0 = never retry). */
  maxAttempts: number;
}

/**
 * Record failed attempts: `retry` with run_after = now() + delay while attempts < max, else
 * `failed`. Returns each written row's new status.
 */
export async function failTasks(tx: Queryable, batch: readonly Failure[]): Promise<{ id: string; status: 'retry' | 'failed' }[]> {
  const res = await tx.query<{ id: string; status: 'retry' | 'failed' }>(
    `WITH moved AS (
     UPDATE tasks t
        SET status = CASE WHEN t.attempts >= u.max THEN 'failed'::taskstatus ELSE 'retry'::taskstatus END,
            run_after = CASE WHEN t.attempts >= u.max THEN t.run_after ELSE now() + make_interval(secs => u.delay_ms / 1000.0) END,
            error = u.err, owner_id = NULL, locked_by = NULL, locked_at = NULL, lease_expires_at = NULL, updated_at = now()
       FROM (SELECT u0.id, u0.owner, u0.err, u0.delay_ms,
                    CASE WHEN u0.max <= 0 THEN 0 ELSE coalesce(t0.max_attempts, u0.max) END AS max
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::float8[], $5::int[]) AS u0(id, owner, err, delay_ms, max)
               JOIN tasks t0 ON t0.id = u0.id) AS u
      WHERE t.id = u.id AND t.owner_id = u.owner AND t.status = 'running'
     RETURNING t.id, t.status::text AS status)
     SELECT m.id, m.status, (SELECT pg_notify('seedcore_tasks', '') FROM moved WHERE status = 'retry' LIMIT 1) AS n FROM moved m`,
    [batch.map((f) => f.id), batch.map((f) => f.owner), batch.map((f) => f.error), batch.map((f) => f.delayMs), batch.map((f) => f.maxAttempts)],
  );
  return res.rows.map((r) => ({ id: r.id, status: r.status }));
}
