/**
 * The claim: one statement, `claim_tasks_core()` (migration 027), the same function that
 * claim_tasks() runs for workers in other languages, so there is one implementation. What it
 * guarantees (see the migration for the statement):
 *
 * Order: effective priority, then due time (coalesce(run_after, created_at)), then age
 * (created_at). Effective priority = priority level (critical 0 … low 3) minus one level per
 * `agingSeconds` the task has been due, floored at 0: a low task due for 3 × agingSeconds
 * competes with critical ones, so nothing starves. agingSeconds = 0 is strict priority.
 *
 * Shape: for each served (queue, priority) pair one range scan of idx_tasks_claim
 * (queue, priority, due, created_at) returns the `limit` oldest-due tasks, locked with SKIP
 * LOCKED. Within one (queue, priority) effective priority only improves with wait, so the best
 * `limit` tasks overall are among these candidates; the statement keeps the best `limit` (and
 * at most the free slots of each limited queue) and releases the other locks at its end.
 *
 * Routing (migration 021): unrouted tasks (tasks.requires and tasks.route_organ NULL) come from
 * idx_tasks_claim, which holds only those. Routed tasks come from idx_tasks_claim_routed, one
 * range scan per (route key, queue, priority) for the keys this worker can serve: 'organ:ID'
 * of its own organ, 'cap:NAME' of each capability it provides, and 'organ:ID' of every organ
 * that is not live (a binding constrains only while its organ is live). A routed row is taken
 * only when the worker meets every requirement (dotted-number versions). A worker that is no
 * organ provides nothing, so it takes unrouted tasks and bound tasks that require nothing and
 * whose organ is not live.
 */
import type { Queryable } from '../db/types.js';
import { prepared } from './prepared.js';
import type { TaskRecord } from './types.js';

export interface ClaimOptions {
  owner: string;
  limit: number;
  types: readonly string[];
  queues: readonly string[];
  leaseSeconds: number;
  /** Seconds of waiting that raise a task by one priority level; 0 = strict priority. */
  agingSeconds: number;
  /**
   * Whether the claim takes from served queues that have a concurrency limit (a queue_limits
   * row). true: from those named in `lockedQueues` (all served ones when it is absent), up to
   * their free slots; the statement locks their queue_limits rows (FOR UPDATE, in name order)
   * before it claims with a fresh snapshot, so claimers of one limited queue serialise and
   * never over-claim. false: limited queues are skipped and no lock is taken.
   */
  limitsLocked: boolean;
  lockedQueues?: readonly string[];
  /**
   * The claimer's registry instance id when it is registered: the statement then takes rows
   * only while that instance is `alive` in the current epoch and within the liveness window
   * (database clock), so a worker the registry declared dead claims nothing under that id even
   * if its own clock disagrees. null for unregistered (library) dispatchers, which are fenced
   * by their leases alone.
   */
  aliveInstance?: string | null;
  /** The organ this worker serves as (DispatcherOptions.organ); absent: a worker that is no organ. */
  organ?: { id: string; capabilities?: readonly { name: string; version: string }[] } | null;
}

/** The claim: the columns the dispatcher reads of each claimed row. */
const CLAIM = `SELECT id, type, params, description, domain, drift_score, attempts, queue, priority::text AS priority, max_attempts, timeout_seconds
  FROM claim_tasks_core($1::text, $2::int, $3::float8, $4::text[], $5::text[], $6::float8, $7::text, $8::text[], $9::text[], $10::uuid, $11::text[])`;

/** One claim statement (autocommit, or inside the caller's transaction). attempts + 1: executions started. */
export async function claimTasks(q: Queryable, o: ClaimOptions): Promise<TaskRecord[]> {
  const caps = o.organ?.capabilities ?? [];
  const params = [
    o.owner,
    o.limit,
    o.leaseSeconds,
    o.types,
    o.queues,
    o.agingSeconds,
    o.organ?.id ?? null,
    caps.map((c) => c.name),
    caps.map((c) => c.version),
    o.aliveInstance ?? null,
    o.limitsLocked ? (o.lockedQueues ?? null) : [],
  ];
  // A named prepared statement on the server pool when enabled (parsed once per connection);
  // the function keeps its own plan per connection either way.
  return (await prepared<TaskRecord>(q, 'claim', CLAIM, params)).rows;
}

/** The served queues that have a concurrency limit (queue_limits row). */
export async function limitedQueues(q: Queryable, queues: readonly string[]): Promise<string[]> {
  const res = await q.query<{ queue: string }>('SELECT queue FROM queue_limits WHERE queue = ANY($1::text[]) ORDER BY queue', [queues]);
  return res.rows.map((r) => r.queue);
}

/**
 * Claim when some served queues are limited: one statement that locks their queue_limits rows
 * (in name order: no deadlock between claimers), then claims with a fresh snapshot, so the
 * running count it sees includes every earlier claimer's commit. Claimers of the same limited
 * queue serialise on that row for the length of one claim statement.
 */
export async function claimWithLimits(q: Queryable, o: Omit<ClaimOptions, 'limitsLocked'>, limited: readonly string[]): Promise<TaskRecord[]> {
  return claimTasks(q, { ...o, limitsLocked: true, lockedQueues: limited });
}

/**
 * Cancel waiting tasks whose window closed (expires_at ≤ now()): status 'cancelled', error
 * 'expired' appended. Served by idx_tasks_expires; safe from every worker at once (SKIP
 * LOCKED + status re-check). Returns the ids moved (the caller cancels their dependents).
 */
export async function expireTasks(q: Queryable, limit = 500): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `WITH x AS (
       SELECT id FROM tasks
        WHERE expires_at IS NOT NULL AND expires_at <= now() AND status IN ('created', 'queued', 'retry')
        ORDER BY expires_at LIMIT $1
          FOR UPDATE SKIP LOCKED)
     UPDATE tasks t SET status = 'cancelled', error = concat_ws(' | ', t.error, 'expired'), updated_at = now()
       FROM x
      WHERE t.id = x.id AND t.status IN ('created', 'queued', 'retry')
     RETURNING t.id`,
    [limit],
  );
  return res.rows.map((r) => r.id);
}
