/**
 * Recovery of abandoned tasks: running tasks whose lease expired, or whose owner is a registry
 * instance that is dead or silent for longer than cluster_metadata.liveness_seconds. Run by the
 * elected maintenance pass (maintenance.ts); also safe from several processes at once (a
 * compare-and-set guarded on owner and lease, never on id alone, rows locked SKIP LOCKED).
 * The dead owners come from the registry's registry_dead_instance_ids() (migration 030), which
 * the planner inlines: the statement reads registry_instance as it did when it named the table.
 *
 * KEEP IN STEP with migrations/020_worker_protocol.sql.
 */
import type { Queryable } from '../db/types.js';

export interface RecoverOptions {
  /** Also recover tasks whose owner instance is dead or silent. */
  deadOwners: boolean;
  /** The task goes to `failed` when attempts >= this (the task's own max_attempts wins when set). */
  maxAttempts: number;
  /** Rows moved per statement. */
  limit: number;
  /**
   * Not used: a recovered task keeps its due time (the attempt was not the task's fault), so
   * no backoff applies. Accepted so callers written against the earlier signature compile.
   * @deprecated
   */
  backoffBaseMs?: number;
  /** @deprecated see backoffBaseMs */
  backoffCapMs?: number;
}

/**
 * Move abandoned tasks to `retry` (or `failed` at their last attempt). The attempt was counted
 * by the claim and is not counted again. run_after is left as it was: the task keeps its place
 * among the due tasks (its original due time, or created_at), so it runs next instead of after
 * the backlog; the NOTIFY wakes idle workers at once. Returns the moved rows.
 */
export async function recoverStale(q: Queryable, opts: RecoverOptions): Promise<{ id: string; status: 'retry' | 'failed' }[]> {
  const res = await q.query<{ id: string; status: 'retry' | 'failed' }>(
    `WITH dead AS (
       SELECT d.id AS owner FROM registry_dead_instance_ids() d(id) WHERE $1::bool
     ),
     stale AS (
       SELECT t.id, t.owner_id, t.lease_expires_at, t.lease_expires_at < now() AS expired
         FROM tasks t
        WHERE t.status = 'running'
          AND (t.lease_expires_at < now() OR t.owner_id IN (SELECT owner FROM dead))
        ORDER BY t.lease_expires_at
        LIMIT $3
          FOR UPDATE OF t SKIP LOCKED
     ),
     moved AS (
     UPDATE tasks t
        SET status = CASE WHEN t.attempts >= coalesce(t.max_attempts, $2) THEN 'failed'::taskstatus ELSE 'retry'::taskstatus END,
            error = concat_ws(' | ', t.error,
                      format('%s (owner %s)%s', CASE WHEN s.expired THEN 'lease expired' ELSE 'owner instance dead' END, s.owner_id,
                             CASE WHEN t.attempts >= coalesce(t.max_attempts, $2) THEN format('; max attempts (%s) reached', coalesce(t.max_attempts, $2::int)) ELSE '' END)),
            owner_id = NULL, locked_by = NULL, locked_at = NULL, lease_expires_at = NULL, updated_at = now()
       FROM stale s
      WHERE t.id = s.id AND t.status = 'running'
        AND t.owner_id IS NOT DISTINCT FROM s.owner_id AND t.lease_expires_at IS NOT DISTINCT FROM s.lease_expires_at
     RETURNING t.id, t.status::text AS status)
     SELECT m.id, m.status, (SELECT pg_notify('seedcore_tasks', '') FROM moved WHERE status = 'retry' LIMIT 1) AS n FROM moved m`,
    [opts.deadOwners, opts.maxAttempts, opts.limit],
  );
  return res.rows.map((r) => ({ id: r.id, status: r.status }));
}
