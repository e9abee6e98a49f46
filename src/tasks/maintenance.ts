/**
 * Maintenance: recovery of abandoned tasks, expiry of closed time windows, healing of stuck
 * dependents, and cron schedules. One process in the cluster does each pass: a pass runs in one
 * transaction that first takes a transaction-scoped advisory try-lock (released with the
 * transaction, even when a statement fails), and a process that does not get it skips the pass.
 * Passes are cheap for whoever runs them, and any process may run the next one, so the work
 * never depends on one process staying up. On PGlite there is a single process and the lock
 * always succeeds.
 */
import { ADVISORY_LOCKS } from '../advisory-locks.js';
import type { Db, Queryable } from '../db/types.js';
import { cancelDependents, healCreated } from './dependencies.js';
import { DEFAULTS } from './defaults.js';
import { expireTasks } from './claim.js';
import type { DispatcherEvent, ResolvedOptions } from './dispatcher-options.js';
import { recoverStale } from './recovery.js';
import { fireDueSlots } from './schedules.js';
import type { TaskLogger } from './types.js';

/** Advisory lock keys of the two passes. */
export const MAINTENANCE_LOCK_KEY = ADVISORY_LOCKS.taskMaintenance;
export const SCHEDULES_LOCK_KEY = ADVISORY_LOCKS.schedules;

/**
 * Take the pass's lock for this transaction, or report that another process has it. The
 * transaction also gets an idle timeout: if this process is cut off mid-pass, the server ends
 * the transaction (and frees the lock and the rows it locked) after it instead of waiting for
 * TCP to notice, so the other processes' passes resume within seconds.
 */
async function elect(tx: Queryable, key: number): Promise<boolean> {
  await tx.query(`SET LOCAL idle_in_transaction_session_timeout = ${Math.round(DEFAULTS.maintenanceIdleTimeoutMs)}`);
  const lock = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [key]);
  return lock.rows[0]?.ok === true;
}

export interface MaintenanceDeps {
  db: Db;
  options: ResolvedOptions;
  recoverDeadOwners: boolean;
  schedules: boolean;
  log: TaskLogger;
  emit(e: DispatcherEvent): void;
  onError(where: string, e: unknown): void;
}

export class Maintenance {
  private readonly timers: NodeJS.Timeout[] = [];
  private recovering = false;
  private scheduling = false;

  constructor(private readonly d: MaintenanceDeps) {}

  start(): void {
    this.every(this.d.options.recoveryIntervalMs, () => void this.recoverPass());
    if (this.d.schedules) this.every(this.d.options.scheduleIntervalMs, () => void this.schedulePass());
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  /** One recovery pass if this process wins the lock; false when another process has it. */
  async recoverPass(): Promise<boolean> {
    if (this.recovering) return false;
    this.recovering = true;
    try {
      const r = await this.d.db.transaction(async (tx) => {
        if (!(await elect(tx, MAINTENANCE_LOCK_KEY))) return null;
        const rows = await recoverStale(tx, {
          deadOwners: this.d.recoverDeadOwners,
          maxAttempts: this.d.options.maxAttempts,
          limit: DEFAULTS.maintenanceBatch,
        });
        const ended = rows.filter((x) => x.status === 'failed').map((x) => x.id);
        // Waiting tasks whose window closed: cancelled ('expired'), their dependents too.
        ended.push(...(await expireTasks(tx, DEFAULTS.maintenanceBatch)));
        if (ended.length > 0) await cancelDependents(tx, ended);
        await healCreated(tx, DEFAULTS.healBatch);
        return rows;
      });
      if (r && r.length > 0) {
        this.d.emit({ kind: 'recovered', ids: r.map((m) => m.id) });
        this.d.log.warn('recovered abandoned tasks', { count: r.length });
      }
      return r !== null;
    } catch (e) {
      this.d.onError('recover', e);
      return false;
    } finally {
      this.recovering = false;
    }
  }

  private async schedulePass(): Promise<void> {
    if (this.scheduling) return;
    this.scheduling = true;
    try {
      await this.d.db.transaction(async (tx) => {
        if (!(await elect(tx, SCHEDULES_LOCK_KEY))) return;
        await fireDueSlots(this.d.db, tx, (e) => this.d.onError('schedules', e));
      });
    } catch (e) {
      this.d.onError('schedules', e);
    } finally {
      this.scheduling = false;
    }
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    this.timers.push(t);
  }
}
