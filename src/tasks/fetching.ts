/**
 * Fetching: claims tasks ahead of free slots (prefetch) within the worker's capacity, honours
 * per-queue concurrency limits, and hands the rows to the holdings.
 *
 * Modes and their transitions:
 *
 *   stopped ──start()──▶ polling
 *   polling ──claim returned fewer rows than asked, no wake-up meanwhile──▶ waiting
 *   waiting ──wake-up (NOTIFY, poll tick, follow-up look)──▶ polling
 *   polling | waiting ──claim failed (database away)──▶ backoff ──after claimRetryMs──▶ polling
 *   any but stopped ──pause(reason)──▶ paused ──last reason lifted──▶ polling
 *   any ──stop()──▶ stopped
 *
 * In polling the fetcher claims whenever free capacity reaches half the total (or the worker
 * starves: a free slot, nothing prefetched, nothing in flight), with up to
 * DEFAULTS.claimsInFlight claims on the way at once. Pause reasons: `registry` (the registry
 * fenced this instance; lifted when it re-registered), `unrenewable` (a lease renewal or
 * registry beat failed; lifted when both work again).
 */
import type { Db } from '../db/types.js';
import { DEFAULTS } from './defaults.js';
import { LazyAbort } from './context.js';
import type { Held, ResolvedOptions } from './dispatcher-options.js';
import type { Holdings } from './holdings.js';
import { claimTasks, claimWithLimits, limitedQueues } from './claim.js';
import type { TaskRecord } from './types.js';

export type FetchMode = 'stopped' | 'polling' | 'waiting' | 'backoff' | 'paused';
export type PauseReason = 'registry' | 'unrenewable';

export interface FetcherDeps {
  db: Db;
  options: ResolvedOptions;
  types: string[];
  holdings: Holdings;
  /** The owner id claims are made under right now. */
  owner(): string;
  /** The registry instance that must be alive for a claim to take rows; null when unregistered. */
  registeredInstance(): string | null;
  /** New rows are in the buffer (start handlers). */
  onClaimed(count: number): void;
  /** Rows that landed after stop(): hand them back unstarted. */
  onLateClaim(list: Held[]): Promise<void>;
  onError(where: string, e: unknown): void;
}

export class Fetcher {
  private mode: FetchMode = 'stopped';
  private readonly pauses = new Set<PauseReason>();
  /** A wake-up arrived while a claim was in flight: a short answer must not send us to waiting. */
  private wokenDuringClaim = false;
  private inFlight = 0;
  /** Rows asked for by claims in flight. */
  private requested = 0;
  private readonly claims = new Set<Promise<void>>();
  private retryTimer: NodeJS.Timeout | undefined;
  private followUp: NodeJS.Timeout | undefined;
  /** Served queues with a queue_limits row (claimed under the limit lock); refreshed periodically. */
  private limited: string[] | undefined;

  constructor(private readonly d: FetcherDeps) {}

  get current(): FetchMode {
    return this.mode;
  }

  get paused(): boolean {
    return this.pauses.size > 0;
  }

  start(): void {
    this.mode = this.pauses.size > 0 ? 'paused' : 'polling';
    this.maybeClaim();
  }

  pause(reason: PauseReason): void {
    this.pauses.add(reason);
    if (this.mode === 'stopped') return;
    this.clearRetry();
    this.mode = 'paused';
  }

  resume(reason: PauseReason): void {
    if (!this.pauses.delete(reason) || this.pauses.size > 0 || this.mode === 'stopped') return;
    this.mode = 'polling';
    this.maybeClaim();
  }

  /** A wake-up: NOTIFY (notified = true, then one follow-up look) or the poll tick. */
  wake(notified = false): void {
    if (this.inFlight > 0) this.wokenDuringClaim = true;
    if (this.mode === 'waiting') this.mode = 'polling';
    this.maybeClaim();
    if (notified && !this.followUp && this.mode !== 'stopped') {
      this.followUp = setTimeout(() => {
        this.followUp = undefined;
        this.wake();
      }, DEFAULTS.followUpMs);
      this.followUp.unref();
    }
  }

  /** Stop claiming; resolves when no claim is in flight (late rows were handed to onLateClaim). */
  async stop(): Promise<void> {
    this.mode = 'stopped';
    this.clearRetry();
    if (this.followUp) clearTimeout(this.followUp);
    await Promise.all(this.claims);
  }

  async refreshLimits(): Promise<void> {
    try {
      this.limited = await limitedQueues(this.d.db, this.d.options.queues);
    } catch (e) {
      this.d.onError('limits', e);
    }
  }

  /** Claim if the mode allows it and there is capacity (called after every change of capacity). */
  maybeClaim(): void {
    if (this.mode !== 'polling' || this.inFlight >= DEFAULTS.claimsInFlight) return;
    const { concurrency, prefetch } = this.d.options;
    const h = this.d.holdings;
    const total = concurrency + prefetch;
    const capacity = total - h.running - h.buffer.length - this.requested;
    if (capacity <= 0) return;
    // Claim in chunks of half the capacity, so the next batch is already on its way while the
    // current one runs. A starving worker claims whatever fits.
    const chunk = Math.max(1, Math.ceil(total / 2));
    const starving = this.inFlight === 0 && h.buffer.length === 0 && h.running < concurrency;
    if (capacity < chunk && !starving) return;
    const limit = Math.min(capacity, chunk);
    this.inFlight++;
    this.requested += limit;
    this.wokenDuringClaim = false;
    const owner = this.d.owner();
    const sentAt = performance.now();
    const claim: Promise<void> = this.claim(owner, limit)
      .then(async (tasks) => {
        this.inFlight--;
        this.requested -= limit;
        if (tasks.length < limit && !this.wokenDuringClaim && this.mode === 'polling') this.mode = 'waiting';
        const list: Held[] = tasks.map((task) => ({ task, owner, state: 'buffered', abort: new LazyAbort(), leaseSentAt: sentAt }));
        if (this.mode === 'stopped') return this.d.onLateClaim(list);
        for (const x of list) {
          h.held.set(x.task.id, x);
          h.buffer.push(x);
        }
        if (list.length > 0) this.d.onClaimed(list.length);
        else this.maybeClaim();
      })
      .catch((e: unknown) => {
        this.inFlight--;
        this.requested -= limit;
        this.d.onError('claim', e);
        if (this.mode !== 'polling' && this.mode !== 'waiting') return;
        // Database away (restart, network): try again shortly, without spinning.
        this.mode = 'backoff';
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (this.mode === 'backoff') this.mode = 'polling';
          this.maybeClaim();
        }, DEFAULTS.claimRetryMs);
      })
      .finally(() => this.claims.delete(claim));
    this.claims.add(claim);
  }

  /** One claim statement; when served queues have a limit it also locks their queue_limits rows (claim.ts). */
  private async claim(owner: string, limit: number): Promise<TaskRecord[]> {
    if (this.limited === undefined) await this.refreshLimits();
    const { options } = this.d;
    const o = {
      owner,
      limit,
      types: this.d.types,
      queues: options.queues,
      leaseSeconds: options.leaseSeconds,
      agingSeconds: options.agingSeconds,
      aliveInstance: this.d.registeredInstance(),
      // Routing happens in the claim statement (claim.ts): an organ takes what it can serve.
      organ: options.organ,
    };
    if (this.limited && this.limited.length > 0) return claimWithLimits(this.d.db, o, this.limited);
    return claimTasks(this.d.db, { ...o, limitsLocked: false });
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
