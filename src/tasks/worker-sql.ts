/**
 * The dispatcher's hot statements. Every state change by a worker is a compare-and-set on
 * (id, owner_id, status = 'running'): a worker whose lease was taken over, or whose task was
 * cancelled, changes nothing. Every UPDATE sets updated_at itself so the row trigger does not
 * fire (see migration 001).
 *
 * KEEP IN STEP with migrations/020_worker_protocol.sql (the same semantics as stored functions
 * for workers in other languages) until this dispatcher calls those functions.
 */
import type { Queryable } from '../db/types.js';
import { prepared } from './prepared.js';

// The claim lives in claim.ts (priority, queues, limits: migration 013).

export interface Completion {
  id: string;
  owner: string;
  /** JSON text of the result. */
  result: string;
}

/**
 * Planner notes for the statements below (they run as prepared statements, so they get a
 * generic plan whose row estimates know nothing of the arrays passed in):
 * - rows are found by `id = ANY($ids)` (primary key); `status::text = 'running'` keeps the
 *   planner from walking idx_tasks_running instead, which statistics taken while few tasks
 *   were running make look free;
 * - per-row values come from one JSON object keyed by id instead of a join with unnest(),
 *   which a generic plan turns into a nested loop (n² comparisons).
 */
function byOwner<T extends { owner: string }>(batch: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of batch) {
    const list = m.get(x.owner);
    if (list) list.push(x);
    else m.set(x.owner, [x]);
  }
  return m;
}

function resultsObject(batch: readonly Completion[]): string {
  return `{${batch.map((c) => `${JSON.stringify(c.id)}:${c.result}`).join(',')}}`;
}

/**
 * Complete tasks that nothing depends on, in one autocommit statement per owner (the hot
 * path; normally one owner). Returns the ids written; the others either have dependents (see
 * completeAny) or lost their compare-and-set.
 */
export async function completeLeaves(q: Queryable, batch: readonly Completion[]): Promise<Set<string>> {
  const written = new Set<string>();
  for (const [owner, list] of byOwner(batch)) {
    const res = await prepared<{ id: string }>(
      q,
      'complete_leaves',
      `UPDATE tasks t
          SET status = 'completed', result = $2::jsonb -> t.id::text, error = NULL, owner_id = NULL, locked_by = NULL,
              locked_at = NULL, lease_expires_at = NULL, updated_at = now()
        WHERE t.id = ANY ($1::uuid[]) AND t.owner_id = $3 AND t.status::text = 'running'
          AND NOT EXISTS (SELECT 1 FROM task_depends_on_task e WHERE e.dst_task_id = t.id)
       RETURNING t.id`,
      [list.map((c) => c.id), resultsObject(list), owner],
    );
    for (const r of res.rows) written.add(r.id);
  }
  return written;
}

/** Complete tasks (with or without dependents) inside a transaction; returns the ids written. */
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

/**
 * Renew the leases of every task the worker holds, in one statement per owner. Returns the
 * held tasks that could not be renewed (cancelled, taken over, or ended) with their current
 * status.
 */
export async function renewLeases(
  q: Queryable,
  held: readonly { id: string; owner: string }[],
  leaseSeconds: number,
): Promise<{ id: string; status: string | null }[]> {
  const missing: string[] = [];
  for (const [owner, list] of byOwner(held)) {
    const res = await prepared<{ id: string }>(
      q,
      'renew',
      `UPDATE tasks t
          SET lease_expires_at = now() + make_interval(secs => $3::float8), last_heartbeat = now(), updated_at = now()
        WHERE t.id = ANY ($1::uuid[]) AND t.owner_id = $2 AND t.status::text = 'running'
       RETURNING t.id`,
      [list.map((h) => h.id), owner, leaseSeconds],
    );
    const renewed = new Set(res.rows.map((r) => r.id));
    for (const h of list) if (!renewed.has(h.id)) missing.push(h.id);
  }
  if (missing.length === 0) return [];
  const res = await q.query<{ id: string; status: string }>('SELECT id, status::text AS status FROM tasks WHERE id = ANY ($1::uuid[])', [missing]);
  const status = new Map(res.rows.map((r) => [r.id, r.status]));
  return missing.map((id) => ({ id, status: status.get(id) ?? null }));
}

/**
 * Hand tasks back on shutdown. Tasks whose handler never started go back to `queued` with the
 * claim's attempt taken back (they were never executed); tasks interrupted mid-run keep the
 * attempt (it started) and go to `retry` now, or `failed` when that was their last attempt.
 */
export async function releaseTasks(q: Queryable, tasks: readonly { id: string; owner: string; started: boolean; maxAttempts: number }[]): Promise<number> {
  if (tasks.length === 0) return 0;
  const res = await q.query<{ n: number }>(
    `WITH moved AS (
       UPDATE tasks t
          SET status = CASE WHEN NOT u.started THEN 'queued'::taskstatus
                            WHEN t.attempts >= u.max THEN 'failed'::taskstatus ELSE 'retry'::taskstatus END,
              attempts = CASE WHEN u.started THEN t.attempts ELSE greatest(t.attempts - 1, 0) END,
              run_after = CASE WHEN u.started AND t.attempts < u.max THEN now() ELSE t.run_after END,
              error = CASE WHEN u.started THEN concat_ws(' | ', t.error, 'interrupted: worker shut down') ELSE t.error END,
              owner_id = NULL, locked_by = NULL, locked_at = NULL, lease_expires_at = NULL, updated_at = now()
         FROM (SELECT u0.id, u0.owner, u0.started, coalesce(t0.max_attempts, u0.max) AS max
                 FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::int[]) AS u0(id, owner, started, max)
                 JOIN tasks t0 ON t0.id = u0.id) AS u
        WHERE t.id = u.id AND t.owner_id = u.owner AND t.status = 'running'
       RETURNING t.status)
     SELECT count(*)::int AS n, CASE WHEN bool_or(status <> 'failed') THEN pg_notify('seedcore_tasks', '') END AS notified FROM moved`,
    [tasks.map((t) => t.id), tasks.map((t) => t.owner), tasks.map((t) => t.started), tasks.map((t) => t.maxAttempts)],
  );
  return res.rows[0]?.n ?? 0;
}

/**
 * Recover running tasks whose lease expired, or (when `deadOwners`) whose owner is a registry
 * instance that is dead or silent for longer than cluster_metadata.liveness_seconds. A
 * compare-and-set guarded on owner and lease (never id alone), safe to run from every worker
 * at once. The attempt was counted by the claim and is not counted again. Returns moved rows.
 */
export async function recoverStale(
  q: Queryable,
  opts: { deadOwners: boolean; maxAttempts: number; backoffBaseMs: number; backoffCapMs: number; limit: number },
): Promise<{ id: string; status: 'retry' | 'failed' }[]> {
  const res = await q.query<{ id: string; status: 'retry' | 'failed' }>(
    `WITH dead AS (
       SELECT ri.instance_id::text AS owner
         FROM registry_instance ri LEFT JOIN cluster_metadata cm ON cm.id = 1
        WHERE $1::bool AND (ri.status = 'dead' OR ri.last_heartbeat < now() - make_interval(secs => coalesce(cm.liveness_seconds, 15)))
     ),
     stale AS (
       SELECT t.id, t.owner_id, t.lease_expires_at, t.lease_expires_at < now() AS expired
         FROM tasks t
        WHERE t.status = 'running'
          AND (t.lease_expires_at < now() OR t.owner_id IN (SELECT owner FROM dead))
        ORDER BY t.lease_expires_at
        LIMIT $5
          FOR UPDATE OF t SKIP LOCKED
     ),
     moved AS (
     UPDATE tasks t
        SET status = CASE WHEN t.attempts >= coalesce(t.max_attempts, $2) THEN 'failed'::taskstatus ELSE 'retry'::taskstatus END,
            run_after = CASE WHEN t.attempts >= coalesce(t.max_attempts, $2) THEN t.run_after
                             ELSE now() + make_interval(secs => least($4::float8, $3::float8 * power(2, greatest(t.attempts - 1, 0))) / 1000.0) END,
            error = concat_ws(' | ', t.error,
                      format('%s (owner %s)%s', CASE WHEN s.expired THEN 'lease expired' ELSE 'owner instance dead' END, s.owner_id,
                             CASE WHEN t.attempts >= coalesce(t.max_attempts, $2) THEN format('; max attempts (%s) reached', coalesce(t.max_attempts, $2::int)) ELSE '' END)),
            owner_id = NULL, locked_by = NULL, locked_at = NULL, lease_expires_at = NULL, updated_at = now()
       FROM stale s
      WHERE t.id = s.id AND t.status = 'running'
        AND t.owner_id IS NOT DISTINCT FROM s.owner_id AND t.lease_expires_at IS NOT DISTINCT FROM s.lease_expires_at
     RETURNING t.id, t.status::text AS status)
     SELECT m.id, m.status, (SELECT pg_notify('seedcore_tasks', '') FROM moved WHERE status = 'retry' LIMIT 1) AS n FROM moved m`,
    [opts.deadOwners, opts.maxAttempts, opts.backoffBaseMs, opts.backoffCapMs, opts.limit],
  );
  return res.rows.map((r) => ({ id: r.id, status: r.status }));
}

/** Renew one task's lease (ctx.heartbeat()); false when the task is no longer ours. */
export async function renewOne(q: Queryable, id: string, owner: string, leaseSeconds: number): Promise<boolean> {
  const res = await q.query(
    `UPDATE tasks SET lease_expires_at = now() + make_interval(secs => $3::float8), last_heartbeat = now(), updated_at = now()
      WHERE id = $1 AND owner_id = $2 AND status = 'running'`,
    [id, owner, leaseSeconds],
  );
  return res.rowCount > 0;
}
