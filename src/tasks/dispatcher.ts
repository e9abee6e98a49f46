/**
 * The Dispatcher: claims tasks in batches, runs their handlers with a concurrency limit,
 * renews leases, records outcomes in batches, recovers abandoned tasks. See worker-sql.ts for
 * the statements and their compare-and-set guards.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/types.js';
import { SeedCoreError, invalidInput, isConnectionError } from '../errors.js';
import { backoffDelay } from './backoff.js';
import { cancelDependents, healCreated, promoteDependents } from './dependencies.js';
import { resolveOptions, type DispatcherEvent, type DispatcherOptions, type Held, type ResolvedOptions } from './dispatcher-options.js';
import type { TaskLogger, TaskRecord } from './types.js';
import { OutcomeWriter } from './outcomes.js';
import { recoverStale, releaseTasks, renewLeases, renewOne } from './worker-sql.js';
import { claimTasks, claimWithLimits, expireTasks, limitedQueues } from './claim.js';
import { ScheduleRunner } from './schedules.js';
import { LazyAbort, makeContext } from './context.js';
import { isTaskSuspended } from './suspend.js';

export type { DispatcherEvent, DispatcherOptions, Held } from './dispatcher-options.js';

/** Delay of the follow-up claim after a NOTIFY wake-up (see onNotify). */
const FOLLOW_UP_MS = 20;

const noopLogger: TaskLogger = { info() {}, warn() {}, error() {} };

export class Dispatcher {
  readonly options: ResolvedOptions;
  private owner: string;
  private readonly types: string[];
  private readonly queues: string[];
  private readonly agingSeconds: number;
  /** Served queues with a queue_limits row (claimed under the limit lock); refreshed periodically. */
  private limited: string[] = [];
  private limitsRead = false;
  private scheduler: ScheduleRunner | undefined;
  private readonly held = new Map<string, Held>();
  private readonly buffer: Held[] = [];
  private running = 0;
  private claimsInFlight = 0;
  /** Claims in flight, awaited by stop() (a claim that lands during stop hands its rows back). */
  private readonly claims = new Set<Promise<void>>();
  /** Rows asked for by claims in flight. */
  private requested = 0;
  private idle = false;
  private wake = false;
  private followUp: NodeJS.Timeout | undefined;
  private paused = false;
  private stopping = false;
  private started = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private unlisten: (() => Promise<void>) | undefined;
  private unlistenCancel: (() => Promise<void>) | undefined;
  private renewing = false;
  private recovering = false;
  private claimRetryTimer: NodeJS.Timeout | undefined;
  private readonly log: TaskLogger;
  private readonly writer: OutcomeWriter;
  private drained: (() => void) | undefined;
  /** The error a handler interrupted by shutdown is finished with (identity marks it). */
  private readonly shutdownError = new SeedCoreError('SEEDCORE_UNAVAILABLE', 'worker shutting down');

  constructor(
    readonly db: Db,
    private readonly opts: DispatcherOptions,
  ) {
    const o = opts;
    ({ options: this.options, types: this.types } = resolveOptions(o));
    this.queues = o.queues ?? ['default'];
    if (!Array.isArray(this.queues) || this.queues.length === 0 || this.queues.some((q) => typeof q !== 'string' || q.length < 1 || q.length > 200))
      throw invalidInput('dispatcher: queues must be a non-empty array of queue names (1–200 characters)');
    const aging = o.agingSeconds ?? 300;
    if (typeof aging !== 'number' || !Number.isFinite(aging) || aging < 0) throw invalidInput('dispatcher: agingSeconds must be a number ≥ 0');
    this.agingSeconds = aging;
    this.owner = o.ownerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.log = o.logger ?? noopLogger;
    this.writer = new OutcomeWriter(db, {
      onWritten: (id, outcome) => this.onWritten(id, outcome),
      onError: (where, error) => this.emitError(where, error),
      afterComplete: promoteDependents,
      afterFail: cancelDependents,
    });
  }

  /** The owner id new claims are made under. */
  get ownerId(): string {
    return this.owner;
  }

  /** Tasks held right now: running handlers and prefetched ones. */
  status(): {
    ownerId: string;
    running: number;
    buffered: number;
    paused: boolean;
    stopping: boolean;
    tasks: { id: string; type: string; state: string; progress?: { done: number; total?: number } }[];
  } {
    return {
      ownerId: this.owner,
      running: this.running,
      buffered: this.buffer.length,
      paused: this.paused,
      stopping: this.stopping,
      tasks: [...this.held.values()].map((h) => ({ id: h.task.id, type: h.task.type, state: h.state, ...(h.progress ? { progress: h.progress } : {}) })),
    };
  }

  async start(): Promise<void> {
    if (this.started) throw new SeedCoreError('SEEDCORE_CONFLICT', 'dispatcher already started');
    this.started = true;
    if (this.opts.listen !== false) {
      try {
        this.unlisten = await this.db.listen('seedcore_tasks', () => this.onNotify(true));
        this.unlistenCancel = await this.db.listen('seedcore_task_cancel', (id) => void this.onCancelNotify(id));
      } catch (e) {
        // Polling still finds the work; LISTEN is only the fast path.
        this.emitError('listen', e);
      }
    }
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      this.timers.push(t);
    };
    every(this.options.pollIntervalMs, () => this.onNotify());
    every(this.options.heartbeatSeconds * 1000, () => void this.renew());
    const recoveryMs = this.opts.recoveryIntervalMs ?? Math.max(100, Math.min(5000, this.options.leaseSeconds * 500));
    every(recoveryMs, () => void this.recover());
    every(this.opts.limitsRefreshMs ?? 5000, () => void this.refreshLimits());
    if (this.opts.schedules !== false) {
      this.scheduler = new ScheduleRunner(this.db, { onError: (e) => this.emitError('schedules', e) });
      every(this.opts.scheduleIntervalMs ?? 1000, () => void this.scheduler?.tick());
    }
    this.log.info('dispatcher started', { ownerId: this.owner, types: this.types, queues: this.queues, ...this.options });
    this.pump();
  }

  /** Stop claiming new tasks; running ones continue (registry fencing, maintenance). */
  pauseClaiming(): void {
    this.paused = true;
  }

  /** Claim again, optionally under a new owner id; tasks in flight keep their claim-time owner. */
  resumeClaiming(newOwnerId?: string): void {
    if (newOwnerId !== undefined) this.owner = newOwnerId;
    this.paused = false;
    this.idle = false;
    this.pump();
  }

  /**
   * Drain: stop claiming, hand prefetched tasks back, let running handlers finish for up to
   * `graceMs`, then abort the rest (signal fires) and hand them back (the attempt counts),
   * flush outcomes and stop timers. Resolves when done.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.claimRetryTimer) clearTimeout(this.claimRetryTimer);
    if (this.followUp) clearTimeout(this.followUp);
    await this.unlisten?.().catch(() => undefined);
    await this.unlistenCancel?.().catch(() => undefined);
    const unstarted = this.buffer.splice(0);
    for (const h of unstarted) {
      h.state = 'finished';
      this.held.delete(h.task.id);
    }
    await this.handBack(unstarted, false);
    await Promise.all(this.claims);
    const graceMs = options.graceMs ?? 10_000;
    if (this.running > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const interrupted = [...this.held.values()].filter((h) => h.state === 'running');
    for (const h of interrupted) this.finish(h, this.shutdownError);
    await this.handBack(interrupted, true);
    await this.writer.drain();
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.log.info('dispatcher stopped', { ownerId: this.owner, interrupted: interrupted.length, returned: unstarted.length });
  }

  private async handBack(list: Held[], started: boolean): Promise<void> {
    if (list.length === 0) return;
    const rows = list.map((h) => ({ id: h.task.id, owner: h.owner, started, maxAttempts: this.options.maxAttempts }));
    for (let attempt = 0; ; attempt++) {
      try {
        await releaseTasks(this.db, rows);
        return;
      } catch (e) {
        // The lease expires anyway and any worker recovers the task; do not hang shutdown.
        if (attempt >= 3 || !isConnectionError(e)) return this.emitError('release', e);
        await sleep(250 * (attempt + 1));
      }
    }
  }

  private onNotify(notified = false): void {
    this.wake = true;
    this.idle = false;
    this.pump();
    // One follow-up look shortly after a wake-up: concurrent inserters skip their own NOTIFY
    // while another is in flight (migration 006), so a task may commit just after the
    // notification that woke us.
    if (notified && !this.followUp && this.started && !this.stopping) {
      this.followUp = setTimeout(() => {
        this.followUp = undefined;
        this.wake = true;
        this.idle = false;
        this.pump();
      }, FOLLOW_UP_MS);
      this.followUp.unref();
    }
  }

  private pump(): void {
    if (this.stopping || !this.started) return;
    while (this.running < this.options.concurrency && this.buffer.length > 0) this.run(this.buffer.shift() as Held);
    this.maybeClaim();
  }

  private maybeClaim(): void {
    if (this.paused || this.stopping || this.claimRetryTimer || this.claimsInFlight >= 2) return;
    if (this.idle && !this.wake) return;
    const total = this.options.concurrency + this.options.prefetch;
    const capacity = total - this.running - this.buffer.length - this.requested;
    if (capacity <= 0) return;
    // Claim in chunks of half the local capacity, up to two claims in flight, so the next
    // batch is already on its way while the current one runs (the database works on one
    // claim while the other travels). A starving worker (free slot, empty buffer, nothing in
    // flight) claims whatever fits.
    const chunk = Math.max(1, Math.ceil(total / 2));
    const starving = this.claimsInFlight === 0 && this.buffer.length === 0 && this.running < this.options.concurrency;
    if (capacity < chunk && !starving) return;
    const limit = Math.min(capacity, chunk);
    this.claimsInFlight++;
    this.requested += limit;
    this.wake = false;
    const owner = this.owner;
    const claim: Promise<void> = this.claim(owner, limit)
      .then((tasks) => {
        this.claimsInFlight--;
        this.requested -= limit;
        if (tasks.length < limit && !this.wake) this.idle = true;
        if (tasks.length > 0) this.emit({ kind: 'claimed', count: tasks.length });
        for (const task of tasks) {
          const h: Held = { task, owner, state: 'buffered', abort: new LazyAbort() };
          this.held.set(task.id, h);
          this.buffer.push(h);
        }
        if (this.stopping) {
          // stop() began while this claim was in flight: hand these straight back.
          const unstarted = this.buffer.splice(0);
          for (const h of unstarted) {
            h.state = 'finished';
            this.held.delete(h.task.id);
          }
          return this.handBack(unstarted, false);
        }
        this.pump();
      })
      .catch((e: unknown) => {
        this.claimsInFlight--;
        this.requested -= limit;
        this.emitError('claim', e);
        // Database away (restart, network): try again shortly, without spinning.
        if (this.claimRetryTimer || this.stopping) return;
        this.claimRetryTimer = setTimeout(() => {
          this.claimRetryTimer = undefined;
          this.idle = false;
          this.pump();
        }, 500);
      })
      .finally(() => this.claims.delete(claim));
    this.claims.add(claim);
  }

  /** One claim: a single statement, or a short transaction when a served queue has a limit. */
  private async claim(owner: string, limit: number): Promise<TaskRecord[]> {
    if (!this.limitsRead) await this.refreshLimits();
    const o = { owner, limit, types: this.types, queues: this.queues, leaseSeconds: this.options.leaseSeconds, agingSeconds: this.agingSeconds };
    if (this.limited.length > 0) return claimWithLimits(this.db, o, this.limited);
    return claimTasks(this.db, { ...o, limitsLocked: false });
  }

  private async refreshLimits(): Promise<void> {
    try {
      this.limited = await limitedQueues(this.db, this.queues);
      this.limitsRead = true;
    } catch (e) {
      this.emitError('limits', e);
    }
  }

  private run(h: Held): void {
    h.state = 'running';
    this.running++;
    const task = h.task;
    const handler = this.opts.handlers[task.type];
    this.emit({ kind: 'started', task });
    const timeoutMs = task.timeout_seconds != null ? task.timeout_seconds * 1000 : (this.opts.timeouts?.[task.type] ?? this.opts.defaultTimeoutMs ?? 0);
    if (timeoutMs > 0) {
      h.timer = setTimeout(() => this.finish(h, new SeedCoreError('SEEDCORE_TIMEOUT', `timed out after ${timeoutMs} ms`)), timeoutMs);
    }
    const ctx = makeContext({
      db: this.db,
      held: h,
      logger: this.log,
      taskFacts: this.opts.taskFacts,
      heartbeat: async () => {
        if (h.state !== 'running') throw new SeedCoreError('SEEDCORE_CONFLICT', `task ${task.id} is no longer running here`);
        if (!(await renewOne(this.db, task.id, h.owner, this.options.leaseSeconds))) {
          this.lose(h, 'lease lost or task cancelled');
          throw new SeedCoreError('SEEDCORE_CONFLICT', `task ${task.id} lost its lease (cancelled or taken over)`);
        }
      },
    });
    Promise.resolve()
      .then(() => (handler as NonNullable<typeof handler>)(task, ctx))
      .then(
        (result) => this.finish(h, undefined, result),
        (e: unknown) => this.finish(h, e ?? new Error('handler rejected without a reason')),
      )
      // finish() runs user callbacks (onEvent, logger): never let them become an unhandled rejection.
      .catch((e: unknown) => this.emitError('finish', e));
  }

  /** Record the attempt's outcome once (handler result, throw, timeout or shutdown). */
  private finish(h: Held, error: unknown, result?: unknown): void {
    if (h.state !== 'running') return;
    h.state = 'finished';
    if (h.timer) clearTimeout(h.timer);
    this.running--;
    const id = h.task.id;
    if (isTaskSuspended(error)) {
      // The handler suspended its task in the database (a compare-and-set on our owner id):
      // the row already holds its next state. Free the slot, write no outcome, stop renewing.
      this.held.delete(id);
      this.emit({ kind: 'suspended', id, waitingFor: error.waitingFor });
      if (this.running === 0 && this.drained) this.drained();
      this.pump();
      return;
    }
    if (error === undefined) {
      let json: string;
      try {
        json = JSON.stringify(result === undefined ? null : result) ?? 'null';
      } catch (e) {
        error = new SeedCoreError('SEEDCORE_INVALID_INPUT', `handler result is not JSON-serialisable: ${(e as Error).message}`);
        json = '';
      }
      const max = this.opts.resultMaxBytes ?? 1_048_576;
      if (error === undefined && Buffer.byteLength(json) > max) {
        this.writer.fail({
          id,
          owner: h.owner,
          error: `result too large: ${Buffer.byteLength(json)} bytes > resultMaxBytes ${max}`,
          delayMs: 0,
          maxAttempts: 0,
        });
      } else if (error === undefined) {
        this.writer.complete({ id, owner: h.owner, result: json });
      }
    }
    if (error !== undefined) {
      if (error instanceof SeedCoreError && error.code === 'SEEDCORE_TIMEOUT') h.abort.abort(error);
      if (error === this.shutdownError) {
        h.abort.abort(error);
        this.held.delete(id);
      } else {
        const message = error instanceof Error ? error.message : String(error);
        const permanent = error instanceof SeedCoreError && error.code === 'SEEDCORE_INVALID_INPUT' && message.startsWith('handler result');
        const delayMs = backoffDelay(h.task.attempts, this.opts.backoff);
        this.writer.fail({ id, owner: h.owner, error: message.slice(0, 10_000), delayMs, maxAttempts: permanent ? 0 : this.options.maxAttempts });
      }
    }
    if (this.running === 0 && this.drained) this.drained();
    this.pump();
  }

  private onWritten(id: string, outcome: { kind: 'completed' } | { kind: 'failed'; error: string; final: boolean } | { kind: 'lost' }): void {
    this.held.delete(id);
    if (outcome.kind === 'lost') {
      this.emit({ kind: 'lost', id, reason: 'outcome not recorded: task cancelled or lease taken over' });
      this.log.warn('outcome discarded: task no longer owned', { taskId: id });
    } else this.emit({ id, ...outcome });
  }

  /** The task is no longer ours (cancelled, taken over): abort its handler, forget it. */
  private lose(h: Held, reason: string): void {
    const wasRunning = h.state === 'running';
    if (h.state === 'buffered') {
      const i = this.buffer.indexOf(h);
      if (i >= 0) this.buffer.splice(i, 1);
    }
    if (h.state === 'finished') return;
    h.state = 'finished';
    if (h.timer) clearTimeout(h.timer);
    this.held.delete(h.task.id);
    h.abort.abort(new SeedCoreError('SEEDCORE_CONFLICT', reason));
    if (wasRunning) {
      this.running--;
      if (this.running === 0 && this.drained) this.drained();
    }
    this.emit({ kind: 'lost', id: h.task.id, reason });
    this.log.warn('task lost', { taskId: h.task.id, reason });
    this.pump();
  }

  /** A task was cancelled (NOTIFY seedcore_task_cancel): if it is running here, abort it now. */
  private async onCancelNotify(id: string): Promise<void> {
    const h = this.held.get(id);
    if (!h || h.state === 'finished') return;
    try {
      const r = await this.db.query<{ status: string; owner_id: string | null }>('SELECT status::text AS status, owner_id FROM tasks WHERE id = $1', [id]);
      const row = r.rows[0];
      if (!row || row.status !== 'running' || row.owner_id !== h.owner)
        this.lose(h, row?.status === 'cancelled' ? 'task cancelled' : `lease lost (task is ${row?.status ?? 'gone'})`);
    } catch (e) {
      this.emitError('cancel-check', e);
    }
  }

  private async renew(): Promise<void> {
    if (this.renewing) return;
    // Finished tasks whose outcome is still being written are renewed too: a slow write
    // (database restarting) must not let the lease lapse and the task run again.
    const list = [...this.held.values()];
    if (list.length === 0) return;
    this.renewing = true;
    try {
      const lost = await renewLeases(
        this.db,
        list.map((h) => ({ id: h.task.id, owner: h.owner })),
        this.options.leaseSeconds,
      );
      for (const l of lost) {
        const h = this.held.get(l.id);
        if (h && h.state !== 'finished') this.lose(h, l.status === 'cancelled' ? 'task cancelled' : `lease lost (task is ${l.status ?? 'gone'})`);
      }
    } catch (e) {
      this.emitError('renew', e);
    } finally {
      this.renewing = false;
    }
  }

  private async recover(): Promise<void> {
    if (this.recovering || this.stopping) return;
    this.recovering = true;
    try {
      const b = this.opts.backoff ?? {};
      const moved = await this.db.transaction(async (tx) => {
        const rows = await recoverStale(tx, {
          deadOwners: this.opts.recoverDeadOwners !== false,
          maxAttempts: this.options.maxAttempts,
          backoffBaseMs: b.baseMs ?? 1000,
          backoffCapMs: b.capMs ?? 300_000,
          limit: 500,
        });
        const failed = rows.filter((r) => r.status === 'failed').map((r) => r.id);
        // Waiting tasks whose window closed: cancelled ('expired'), their dependents too.
        failed.push(...(await expireTasks(tx)));
        if (failed.length > 0) await cancelDependents(tx, failed);
        return rows;
      });
      if (moved.length > 0) {
        this.emit({ kind: 'recovered', ids: moved.map((m) => m.id) });
        this.log.warn('recovered abandoned tasks', { count: moved.length });
      }
      await healCreated(this.db);
    } catch (e) {
      this.emitError('recover', e);
    } finally {
      this.recovering = false;
    }
  }

  /** Deliver an event to onEvent; a throwing observer must not disturb the dispatcher. */
  private emit(e: DispatcherEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch {
      // ignored on purpose
    }
  }

  private emitError(where: string, error: unknown): void {
    this.emit({ kind: 'error', where, error });
    this.log.error(`dispatcher ${where} failed`, { error: error instanceof Error ? error.message : String(error) });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
