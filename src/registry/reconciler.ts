/**
 * The reconciler marks dead the instances that stopped beating or belong to an old epoch.
 * Every worker and server runs one; a transaction-scoped try-lock makes exactly one of them
 * do the work per round across the cluster, and the lock cannot leak: it ends with the
 * transaction, even if a statement fails (a session-level lock, as the original SeedCore
 * took, stays held when a statement between lock and unlock fails).
 * On PGlite there is a single process, and advisory locks always succeed there.
 */
import { ADVISORY_LOCKS } from '../advisory-locks.js';
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import type { ExpireResult } from './queries.js';

/** Advisory lock key of the reconciler. */
export const RECONCILER_LOCK_KEY = ADVISORY_LOCKS.registryReconciler;

export interface ReconcileResult extends ExpireResult {
  /** False when another process held the lock and did this round. */
  ran: boolean;
}

/** One reconcile round: both expiry functions under the cluster-wide try-lock. */
export async function reconcileOnce(db: Db, options: { timeoutSeconds?: number } = {}): Promise<ReconcileResult> {
  return db.transaction(async (tx) => {
    const lock = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RECONCILER_LOCK_KEY]);
    if (lock.rows[0]?.ok !== true) return { ran: false, stale: 0, oldEpoch: 0 };
    const r = await tx.query<{ stale: number; old_epoch: number }>(
      `SELECT expire_stale_instances(coalesce($1::int, (SELECT liveness_seconds FROM cluster_metadata WHERE id = 1), 15)) AS stale,
              expire_old_epoch_instances() AS old_epoch`,
      [options.timeoutSeconds ?? null],
    );
    return { ran: true, stale: Number(r.rows[0]?.stale ?? 0), oldEpoch: Number(r.rows[0]?.old_epoch ?? 0) };
  });
}

export interface ReconcilerOptions {
  /** Time between rounds. @defaultValue 5000 (a third of the default 15 s liveness window) */
  intervalMs?: number;
  /** Stale threshold; by default the cluster's liveness_seconds, so "gone from the views" and "dead" agree. */
  timeoutSeconds?: number;
  /** Called after each round that expired something, and on errors (which never stop the loop). */
  onRound?: (r: ReconcileResult) => void;
  onError?: (e: unknown) => void;
}

/** Run reconcile rounds until the returned function is called (it resolves when the loop has stopped). */
export function startReconciler(db: Db, options: ReconcilerOptions = {}): () => Promise<void> {
  const intervalMs = options.intervalMs ?? 5000;
  if (!Number.isFinite(intervalMs) || intervalMs < 10) throw invalidInput('intervalMs must be >= 10', { field: 'intervalMs' });
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> = Promise.resolve();
  const round = async () => {
    try {
      const r = await reconcileOnce(db, options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds });
      if (r.stale + r.oldEpoch > 0) options.onRound?.(r);
    } catch (e) {
      options.onError?.(e);
    }
  };
  const loop = () => {
    if (stopped) return;
    current = round().then(() => {
      if (!stopped) timer = setTimeout(loop, intervalMs);
    });
  };
  loop();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await current;
  };
}
