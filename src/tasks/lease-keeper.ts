/**
 * The lease keeper: renews the leases of every held task, reacts to cancellations, and fences
 * the worker when it cannot renew (the contract is in timing.ts).
 *
 * - Every heartbeatSeconds one statement per owner renews all held tasks (prefetched, running,
 *   and finished with the outcome not written yet). A task the statement did not renew is no
 *   longer ours (cancelled, taken over): its handler is aborted.
 * - A failed renewal (or an unhealthy registry beat) pauses claiming at once; the next
 *   successful renewal with a healthy registry lifts the pause.
 * - Every fenceCheckMs, independent of renewals (a renewal may hang on a dropped route), held
 *   tasks past their self-fence deadline are given up: handler aborted with reason
 *   `lease unrenewable`, outcome not written. Their takeover by another worker can only begin
 *   after the deadline, so two executions of one task never overlap.
 */
import { BackgroundSubscription } from '../db/subscription.js';
import type { Db } from '../db/types.js';
import { SeedCoreError } from '../errors.js';
import { DEFAULTS } from './defaults.js';
import type { DispatcherEvent, Held, ResolvedOptions } from './dispatcher-options.js';
import type { Execution } from './execution.js';
import type { Fetcher } from './fetching.js';
import type { Holdings } from './holdings.js';
import { byOwner, renewLeases, renewOne } from './lease.js';
import { fenceMarginMs, monotonicNow, type MembershipClock } from './timing.js';
import type { TaskLogger } from './types.js';

export const LEASE_UNRENEWABLE = 'lease unrenewable';

export interface LeaseKeeperDeps {
  db: Db;
  options: ResolvedOptions;
  holdings: Holdings;
  execution: Execution;
  fetcher: Fetcher;
  membership: () => MembershipClock | undefined;
  log: TaskLogger;
  emit(e: DispatcherEvent): void;
  onError(where: string, e: unknown): void;
}

export class LeaseKeeper {
  private renewing = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly leaseMs: number;
  private readonly marginMs: number;
  private cancels: BackgroundSubscription | undefined;
  /** The last renewal pass failed: claims are paused until one succeeds. */
  private renewalFailing = false;

  constructor(private readonly d: LeaseKeeperDeps) {
    this.leaseMs = d.options.leaseSeconds * 1000;
    this.marginMs = fenceMarginMs(d.options.leaseSeconds);
  }

  /** Starts renewing and fence checks at once; the cancel subscription joins in the background. */
  start(listen: boolean): void {
    // Renewals find cancelled tasks within a heartbeat anyway; the notification only makes it sooner.
    if (listen)
      this.cancels = new BackgroundSubscription(
        this.d.db,
        'seedcore_task_cancel',
        (id) => void this.onCancelNotify(id),
        (e) => this.d.onError('listen', e),
      );
    this.every(this.d.options.heartbeatSeconds * 1000, () => void this.renew());
    // At most a quarter of the margin, so the check itself never eats the margin.
    this.every(Math.max(10, Math.min(DEFAULTS.fenceCheckMs, this.marginMs / 4)), () => this.checkFence());
  }

  async stopListening(): Promise<void> {
    await this.cancels?.close();
    this.cancels = undefined;
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  /** The self-fence deadline of one held task on the monotonic clock. */
  deadline(h: Held): number {
    const lease = h.leaseSentAt + this.leaseMs - this.marginMs;
    const m = this.d.membership();
    return m ? Math.min(lease, m.trustedUntil) : lease;
  }

  /** Still ours by our own clock: held and before its self-fence deadline. */
  stillOurs(id: string): boolean {
    const h = this.d.holdings.held.get(id);
    return h !== undefined && monotonicNow() < this.deadline(h);
  }

  /** ctx.heartbeat(): renew one task now. */
  async heartbeat(h: Held): Promise<void> {
    if (h.state !== 'running') throw new SeedCoreError('SEEDCORE_CONFLICT', `task ${h.task.id} is no longer running here`);
    const sentAt = monotonicNow();
    if (!(await renewOne(this.d.db, h.task.id, h.owner, this.d.options.leaseSeconds))) {
      this.d.execution.lose(h, 'lease lost or task cancelled');
      throw new SeedCoreError('SEEDCORE_CONFLICT', `task ${h.task.id} lost its lease (cancelled or taken over)`);
    }
    h.leaseSentAt = Math.max(h.leaseSentAt, sentAt);
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private async renew(): Promise<void> {
    if (this.renewing) return;
    const list = [...this.d.holdings.held.values()].filter((h) => h.suspending !== true);
    this.renewing = true;
    try {
      const sentAt = monotonicNow();
      if (list.length === 0) {
        // Nothing to renew: while claims are paused for a failed renewal, probe the database so
        // the pause is lifted once it answers again.
        if (this.renewalFailing) await this.d.db.query('SELECT 1');
      } else {
        const lost = await renewLeases(
          this.d.db,
          list.map((h) => ({ id: h.task.id, owner: h.owner })),
          this.d.options.leaseSeconds,
        );
        const missing = new Set(lost.map((l) => l.id));
        for (const h of list) if (!missing.has(h.task.id)) h.leaseSentAt = Math.max(h.leaseSentAt, sentAt);
        for (const l of lost) {
          const h = this.d.holdings.held.get(l.id);
          if (h && h.state !== 'finished' && h.suspending !== true)
            this.d.execution.lose(h, l.status === 'cancelled' ? 'task cancelled' : `lease lost (task is ${l.status ?? 'gone'})`);
        }
      }
      this.renewalFailing = false;
      this.updateClaimPause();
    } catch (e) {
      // Any error: we cannot tell whether the leases were renewed, so they were not.
      this.renewalFailing = true;
      this.updateClaimPause();
      this.d.onError('renew', e);
    } finally {
      this.renewing = false;
    }
  }

  /** Claims are paused while renewals fail or the registry beat does not land. */
  private updateClaimPause(): void {
    const m = this.d.membership();
    const healthy = !this.renewalFailing && (m === undefined || m.healthy);
    if (healthy) this.d.fetcher.resume('unrenewable');
    else this.d.fetcher.pause('unrenewable');
  }

  /** Give up every held task past its self-fence deadline. */
  private checkFence(): void {
    this.updateClaimPause();
    const now = monotonicNow();
    // A suspending task is still fenced: its suspension write may not land after the deadline.
    const expired = [...this.d.holdings.held.values()].filter((h) => now >= this.deadline(h));
    if (expired.length === 0) return;
    this.d.fetcher.pause('unrenewable');
    for (const h of expired) this.d.execution.lose(h, LEASE_UNRENEWABLE, 'SEEDCORE_FENCED');
    const ids = expired.map((h) => h.task.id);
    this.d.emit({ kind: 'fenced', ids, reason: LEASE_UNRENEWABLE });
    this.d.log.error('self-fenced: leases could not be renewed in time; handlers aborted, tasks given up', {
      count: ids.length,
      owners: [...byOwner(expired).keys()],
    });
  }

  /** A task was cancelled (NOTIFY seedcore_task_cancel): if it is running here, abort it now. */
  private async onCancelNotify(id: string): Promise<void> {
    const h = this.d.holdings.held.get(id);
    if (!h || h.state === 'finished' || h.suspending === true) return;
    try {
      const r = await this.d.db.query<{ status: string; owner_id: string | null }>('SELECT status::text AS status, owner_id FROM tasks WHERE id = $1', [id]);
      const row = r.rows[0];
      if (!row || row.status !== 'running' || row.owner_id !== h.owner)
        this.d.execution.lose(h, row?.status === 'cancelled' ? 'task cancelled' : `lease lost (task is ${row?.status ?? 'gone'})`);
    } catch (e) {
      this.d.onError('cancel-check', e);
    }
  }
}
