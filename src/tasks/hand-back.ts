/**
 * Handing held tasks back (shutdown, or a claim that landed while stopping). A compare-and-set
 * on (id, owner_id, status = 'running'), like every worker statement.
 *
 * KEEP IN STEP with migrations/020_worker_protocol.sql.
 */
import type { Queryable } from '../db/types.js';
import { isConnectionError } from '../errors.js';
import { DEFAULTS } from './defaults.js';

/**
 * Tasks whose handler never started go back to `queued` with the claim's attempt taken back
 * (they were never executed); tasks interrupted mid-run keep the attempt (it started) and go
 * to `retry`, or `failed` when that was their last attempt. Both keep their due time
 * (run_after), so they keep their place among the due tasks instead of joining the back of
 * the line.
 */
export async function releaseTasks(q: Queryable, tasks: readonly { id: string; owner: string; started: boolean; maxAttempts: number }[]): Promise<number> {
  if (tasks.length === 0) return 0;
  const res = await q.query<{ n: number }>(
    `WITH moved AS (
       UPDATE tasks t
          SET status = CASE WHEN NOT u.started THEN 'queued'::taskstatus
                            WHEN t.attempts >= u.max THEN 'failed'::taskstatus ELSE 'retry'::taskstatus END,
              attempts = CASE WHEN u.started THEN t.attempts ELSE greatest(t.attempts - 1, 0) END,
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
 * Hand back with a few retries on connection errors only (DEFAULTS.handBackAttempts). Other
 * errors are reported at once. Never throws: if the write does not land, the lease expires and
 * the maintenance pass recovers the task, so shutdown never hangs on it.
 */
export async function handBack(
  q: Queryable,
  tasks: readonly { id: string; owner: string; started: boolean; maxAttempts: number }[],
  onError: (e: unknown) => void,
): Promise<void> {
  if (tasks.length === 0) return;
  for (let attempt = 1; ; attempt++) {
    try {
      await releaseTasks(q, tasks);
      return;
    } catch (e) {
      if (attempt >= DEFAULTS.handBackAttempts || !isConnectionError(e)) return onError(e);
      await new Promise((r) => setTimeout(r, DEFAULTS.handBackStepMs * attempt));
    }
  }
}
