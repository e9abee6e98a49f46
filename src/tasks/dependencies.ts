/**
 * Dependency propagation (`task_depends_on_task`: src depends on dst). Both functions run
 * inside the transaction that ended the dependency, so a dependent becomes `queued` in the
 * same transaction that completes its last dependency.
 */
import type { Queryable } from '../db/types.js';

/**
 * Queue the `created` dependents of `completedIds` whose dependencies are now all completed.
 *
 * Two statements on purpose: the first locks the candidate dependents (ordered by id, so two
 * completers cannot deadlock on them); the second runs with a fresh snapshot taken after the
 * lock was granted, so when two siblings complete concurrently the later transaction sees the
 * earlier one's commit and queues the shared dependent (no lost fan-in).
 */
export async function promoteDependents(q: Queryable, completedIds: readonly string[]): Promise<number> {
  if (completedIds.length === 0) return 0;
  const locked = await q.query<{ id: string }>(
    `SELECT d.id FROM tasks d
      WHERE d.id IN (SELECT e.src_task_id FROM task_depends_on_task e WHERE e.dst_task_id = ANY($1::uuid[]))
        AND d.status = 'created'
      ORDER BY d.id
        FOR UPDATE`,
    [completedIds],
  );
  if (locked.rows.length === 0) return 0;
  const res = await q.query<{ n: number }>(
    `WITH ready AS (
       UPDATE tasks d SET status = 'queued', updated_at = now()
        WHERE d.id = ANY($1::uuid[]) AND d.status = 'created'
          AND NOT EXISTS (SELECT 1 FROM task_depends_on_task e JOIN tasks p ON p.id = e.dst_task_id
                           WHERE e.src_task_id = d.id AND p.status <> 'completed')
       RETURNING d.id)
     SELECT count(*)::int AS n, CASE WHEN count(*) > 0 THEN pg_notify('seedcore_tasks', '') END AS notified FROM ready`,
    [locked.rows.map((r) => r.id)],
  );
  return res.rows[0]?.n ?? 0;
}

/**
 * Cancel, transitively, every `created` task that depends on one of `endedIds` (tasks that
 * just ended failed or cancelled). The error names the dependency that ended and its status.
 * Returns the ids cancelled.
 */
export async function cancelDependents(q: Queryable, endedIds: readonly string[]): Promise<string[]> {
  if (endedIds.length === 0) return [];
  const res = await q.query<{ id: string }>(
    `WITH RECURSIVE dep(id, root) AS (
       SELECT e.src_task_id, e.dst_task_id FROM task_depends_on_task e WHERE e.dst_task_id = ANY($1::uuid[])
       UNION
       SELECT e.src_task_id, dep.root FROM task_depends_on_task e JOIN dep ON e.dst_task_id = dep.id
     ),
     victim AS (
       SELECT DISTINCT ON (dep.id) dep.id, dep.root, r.status AS root_status
         FROM dep JOIN tasks r ON r.id = dep.root
        ORDER BY dep.id, dep.root
     )
     UPDATE tasks t
        SET status = 'cancelled', updated_at = now(), lease_expires_at = NULL,
            error = concat_ws(' | ', t.error, format('cancelled: dependency %s ended %s', v.root, v.root_status))
       FROM victim v
      WHERE t.id = v.id AND t.status = 'created'
     RETURNING t.id`,
    [endedIds],
  );
  return res.rows.map((r) => r.id);
}

/**
 * Heal `created` tasks (with at least one dependency) left behind by a race (a dependency completed while the submit that
 * added the edge was still open): queue those whose dependencies are all completed and cancel
 * those with a failed or cancelled dependency. Cheap: it walks the `created` rows through
 * idx_tasks_status. Run by the dispatcher's recovery sweep.
 */
export async function healCreated(q: Queryable, limit = 1000): Promise<{ queued: number; cancelled: number }> {
  const res = await q.query<{ queued: number; cancelled: number }>(
    `WITH cand AS (
       SELECT d.id,
              count(e.id) AS n_deps,
              bool_and(p.status = 'completed') AS all_done,
              bool_or(p.status IN ('failed', 'cancelled')) AS any_dead,
              min(p.id::text) FILTER (WHERE p.status IN ('failed', 'cancelled')) AS dead_dep
         FROM (SELECT id FROM tasks WHERE status = 'created' ORDER BY created_at LIMIT $1) d
         LEFT JOIN task_depends_on_task e ON e.src_task_id = d.id
         LEFT JOIN tasks p ON p.id = e.dst_task_id
        GROUP BY d.id
     ),
     locked AS (
       SELECT t.id, c.all_done, c.any_dead, c.dead_dep FROM tasks t JOIN cand c ON c.id = t.id
        WHERE t.status = 'created' AND c.n_deps > 0 AND (c.all_done OR c.any_dead)
          FOR UPDATE OF t SKIP LOCKED
     ),
     moved AS (
       UPDATE tasks t
          SET status = CASE WHEN l.any_dead THEN 'cancelled'::taskstatus ELSE 'queued'::taskstatus END,
              updated_at = now(),
              error = CASE WHEN l.any_dead THEN concat_ws(' | ', t.error, format('cancelled: dependency %s ended failed or cancelled', l.dead_dep)) ELSE t.error END
         FROM locked l
        WHERE t.id = l.id AND t.status = 'created'
       RETURNING t.status)
     SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued,
            count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
            CASE WHEN count(*) FILTER (WHERE status = 'queued') > 0 THEN pg_notify('seedcore_tasks', '') END AS notified
       FROM moved`,
    [limit],
  );
  return { queued: res.rows[0]?.queued ?? 0, cancelled: res.rows[0]?.cancelled ?? 0 };
}
