/**
 * The claim (migration 013): priority with aging, named queues, per-queue concurrency limits,
 * time windows.
 *
 * KEEP IN STEP with claim_tasks in migrations/021_capability_routing.sql (first written in
 * 020_worker_protocol.sql; the same semantics as stored functions for workers in other
 * languages) until this dispatcher calls those functions.
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
   * True when the caller holds the queue_limits rows of the limited queues it serves (FOR
   * UPDATE, this transaction, names in `lockedQueues`): those queues are then claimed up to
   * their free slots. Limited queues whose row is not held are skipped (never over-claimed).
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

/** The route key of a routed row: the expression idx_tasks_claim_routed leads with (migration 021). */
export const ROUTE_KEY = `coalesce('organ:' || t.route_organ, 'cap:' || split_part(t.requires[1], '>=', 1))`;

/**
 * Candidates: one locked range scan per (queue, priority). `qs` yields the served queues and
 * their slots; the fast variant (no limited queue involved) skips the running counts and the
 * per-queue window.
 */
function claimSql(limited: boolean): string {
  // $7 (fast) / $8 (limited): the registered claimer's instance id, or NULL. Then the organ
  // id (or NULL) and the provided capabilities' names and versions (parallel arrays).
  const alive = limited ? '$8' : '$7';
  const [organ, names, versions] = limited ? ['$9', '$10', '$11'] : ['$8', '$9', '$10'];
  const qs0 = limited
    ? `SELECT q.name,
              CASE WHEN l.queue IS NULL THEN $2::int
                   ELSE greatest(0, l.max_running - (SELECT count(*)::int FROM tasks r WHERE r.status = 'running' AND r.queue = q.name)) END AS slots
         FROM unnest($4::text[]) AS q(name) LEFT JOIN queue_limits l ON l.queue = q.name
        WHERE l.queue IS NULL OR l.queue = ANY($7::text[])`
    : `SELECT q.name, $2::int AS slots
         FROM unnest($4::text[]) AS q(name)
        WHERE NOT EXISTS (SELECT 1 FROM queue_limits l WHERE l.queue = q.name)`;
  const qs = `SELECT * FROM (${qs0}) q0
   WHERE ${alive}::uuid IS NULL
      OR EXISTS (SELECT 1 FROM registry_instance ri JOIN cluster_metadata cm ON cm.id = 1
                  WHERE ri.instance_id = ${alive}::uuid AND ri.status = 'alive' AND ri.cluster_epoch = cm.current_epoch
                    AND ri.last_heartbeat > now() - make_interval(secs => cm.liveness_seconds))`;
  const pick = limited
    ? `SELECT r.tid FROM (
         SELECT cand.*, row_number() OVER (PARTITION BY cand.queue ORDER BY cand.eff, cand.due, cand.created_at) AS nq FROM cand) r
         JOIN qs ON qs.name = r.queue
        WHERE r.nq <= qs.slots
        ORDER BY r.eff, r.due, r.created_at
        LIMIT $2::int`
    : `SELECT cand.tid FROM cand ORDER BY cand.eff, cand.due, cand.created_at LIMIT $2::int`;
  const eff = `greatest(0, p.lvl - 1 - CASE WHEN $6::float8 > 0 THEN floor(extract(epoch FROM now() - c.due) / $6::float8)::int ELSE 0 END) AS eff`;
  const common = `AND t.queue = qs.name AND t.priority = p.pr
        AND coalesce(t.run_after, t.created_at) <= now()
        AND t.type = ANY($3::text[])
        AND (t.expires_at IS NULL OR t.expires_at > now())
      ORDER BY coalesce(t.run_after, t.created_at), t.created_at
      LIMIT least($2::int, qs.slots)
        FOR UPDATE SKIP LOCKED) c
   WHERE qs.slots > 0`;
  return `
WITH qs AS MATERIALIZED (${qs}),
caps AS MATERIALIZED (
  SELECT x.name, version_key(coalesce(x.version, '0')) AS vk FROM unnest(${names}::text[], ${versions}::text[]) AS x(name, version)
),
keys AS MATERIALIZED (
  SELECT 'organ:' || ${organ}::text AS key WHERE ${organ}::text IS NOT NULL
  UNION SELECT 'cap:' || caps.name FROM caps
  UNION SELECT 'organ:' || o.organ_id FROM organ_registry o
         WHERE o.organ_id IS DISTINCT FROM ${organ}::text
           AND NOT EXISTS (SELECT 1 FROM registry_instance ri JOIN cluster_metadata cm ON cm.id = 1
                            WHERE ri.logical_id = o.organ_id AND ri.status = 'alive' AND ri.cluster_epoch = cm.current_epoch
                              AND ri.last_heartbeat > now() - make_interval(secs => cm.liveness_seconds))
),
cand AS MATERIALIZED (
  SELECT c.tid, c.queue, c.due, c.created_at, ${eff}
    FROM qs
   CROSS JOIN unnest(enum_range(NULL::taskpriority)) WITH ORDINALITY AS p(pr, lvl)
   CROSS JOIN LATERAL (
     SELECT t.ctid AS tid, t.queue, coalesce(t.run_after, t.created_at) AS due, t.created_at
       FROM tasks t
      WHERE t.status IN ('queued', 'retry') AND t.route_organ IS NULL AND t.requires IS NULL
        ${common}
  UNION ALL
  SELECT c.tid, c.queue, c.due, c.created_at, ${eff}
    FROM qs
   CROSS JOIN unnest(enum_range(NULL::taskpriority)) WITH ORDINALITY AS p(pr, lvl)
   CROSS JOIN keys k
   CROSS JOIN LATERAL (
     SELECT t.ctid AS tid, t.queue, coalesce(t.run_after, t.created_at) AS due, t.created_at
       FROM tasks t
      WHERE t.status IN ('queued', 'retry') AND (t.route_organ IS NOT NULL OR t.requires IS NOT NULL)
        AND ${ROUTE_KEY} = k.key
        AND (t.requires IS NULL OR NOT EXISTS (
              SELECT 1 FROM unnest(t.requires) AS r(c)
               WHERE NOT EXISTS (SELECT 1 FROM caps WHERE caps.name = split_part(r.c, '>=', 1)
                                    AND (strpos(r.c, '>=') = 0 OR caps.vk >= version_key(split_part(r.c, '>=', 2))))))
        ${common}
),
pick AS (${pick})
UPDATE tasks t
   SET status = 'running', owner_id = $1, locked_by = $1, locked_at = now(), last_heartbeat = now(),
       lease_expires_at = now() + make_interval(secs => $5::float8), attempts = t.attempts + 1, updated_at = now()
  -- By the row versions cand locked (a TID scan: no primary-key descent per row, ~10% of the
  -- claim). A locked version cannot change before this statement ends; a row whose newest
  -- version this snapshot cannot see is skipped, never claimed twice.
 WHERE t.ctid = ANY (ARRAY(SELECT tid FROM pick)) AND t.status IN ('queued', 'retry')
RETURNING t.id, t.type, t.params, t.description, t.domain, t.drift_score, t.attempts,
          t.queue, t.priority::text AS priority, t.max_attempts, t.timeout_seconds`;
}

const CLAIM_FAST = claimSql(false);
/** Idle-in-transaction limit of the limited claim (ms): it is two statements long. */
const LIMITED_CLAIM_IDLE_TIMEOUT_MS = 5000;
const CLAIM_LIMITED = claimSql(true);

/** One claim statement (autocommit, or inside the caller's transaction). attempts + 1: executions started. */
export async function claimTasks(q: Queryable, o: ClaimOptions): Promise<TaskRecord[]> {
  const params = [o.owner, o.limit, o.types, o.queues, o.leaseSeconds, o.agingSeconds];
  const alive = o.aliveInstance ?? null;
  const caps = o.organ?.capabilities ?? [];
  const routing = [o.organ?.id ?? null, caps.map((c) => c.name), caps.map((c) => c.version)];
  // The common case runs as a named prepared statement on the server pool (planned once per
  // connection); the limited variant runs inside the caller's transaction.
  const res = o.limitsLocked
    ? await q.query<TaskRecord>(CLAIM_LIMITED, [...params, o.lockedQueues ?? [], alive, ...routing])
    : await prepared<TaskRecord>(q, 'claim', CLAIM_FAST, [...params, alive, ...routing]);
  return res.rows;
}

/** The served queues that have a concurrency limit (queue_limits row). */
export async function limitedQueues(q: Queryable, queues: readonly string[]): Promise<string[]> {
  const res = await q.query<{ queue: string }>('SELECT queue FROM queue_limits WHERE queue = ANY($1::text[]) ORDER BY queue', [queues]);
  return res.rows.map((r) => r.queue);
}

/**
 * Claim when some served queues are limited: one short transaction that locks their
 * queue_limits rows (in name order: no deadlock between claimers), then claims with a fresh
 * snapshot, so the running count it sees includes every earlier claimer's commit. Claimers of
 * the same limited queue serialise on that row for the length of one claim statement.
 */
export async function claimWithLimits(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  o: Omit<ClaimOptions, 'limitsLocked'>,
  limited: readonly string[],
): Promise<TaskRecord[]> {
  return db.transaction(async (tx) => {
    // A claimer cut off mid-transaction must not hold the limit rows until TCP notices: the
    // server ends the transaction after this idle time.
    await tx.query(`SET LOCAL idle_in_transaction_session_timeout = ${LIMITED_CLAIM_IDLE_TIMEOUT_MS}`);
    await tx.query('SELECT queue FROM queue_limits WHERE queue = ANY($1::text[]) ORDER BY queue FOR UPDATE', [limited]);
    return claimTasks(tx, { ...o, limitsLocked: true, lockedQueues: limited });
  });
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

/** The claim statement of a worker whose served queues have no limit (for plans: EXPLAIN in tests and docs). */
export const CLAIM_STATEMENT: string = CLAIM_FAST;
