/**
 * Lease statements: renewal of every held task, and of one (ctx.heartbeat()).
 *
 * Every state change by a worker is a compare-and-set on (id, owner_id, status = 'running'): a
 * worker whose lease was taken over, or whose task was cancelled, changes nothing. Every UPDATE
 * sets updated_at itself so the row trigger does not fire (see migration 001).
 *
 * KEEP IN STEP with migrations/020_worker_protocol.sql (the same semantics as stored functions
 * for workers in other languages).
 */
import type { Queryable } from '../db/types.js';
import { prepared } from './prepared.js';

/** Group a batch by owner (normally one: the worker's current id). */
export function byOwner<T extends { owner: string }>(batch: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of batch) {
    const list = m.get(x.owner);
    if (list) list.push(x);
    else m.set(x.owner, [x]);
  }
  return m;
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

/** Renew one task's lease (ctx.heartbeat()); false when the task is no longer ours. */
export async function renewOne(q: Queryable, id: string, owner: string, leaseSeconds: number): Promise<boolean> {
  const res = await q.query(
    `UPDATE tasks SET lease_expires_at = now() + make_interval(secs => $3::float8), last_heartbeat = now(), updated_at = now()
      WHERE id = $1 AND owner_id = $2 AND status = 'running'`,
    [id, owner, leaseSeconds],
  );
  return res.rowCount > 0;
}
