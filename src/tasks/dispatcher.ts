/**
 * The Dispatcher: claims tasks in batches, runs their handlers with a concurrency limit,
 * renews leases, records outcomes in batches, recovers abandoned tasks. See worker-sql.ts for
 * the statements and their compare-and-set guards.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/types.js';
import { SeedCoreError, invalidInput, isConnectionError } from '../errors.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { cancelDependents, healCreated, promoteDependents } from './dependencies.js';
import type { HandlerMap, TaskFacts, TaskLogger, TaskRecord } from './types.js';
import { OutcomeWriter } from './outcomes.js';
import { recoverStale, releaseTasks, renewLeases, renewOne } from './worker-sql.js';
import { claimTasks, claimWithLimits, expireTasks, limitedQueues } from './claim.js';
import { ScheduleRunner } from './schedules.js';
import { makeContext } from './context.js';

export interface DispatcherOptions {
  /** Task type → handler. Only these types are claimed (narrow further with `types`). */
  handlers: HandlerMap;
  /** Claim only these types (each must have a handler). @defaultValue every type in `handlers` */
  types?: string[];
  /** Named queues this worker serves (tasks.queue). @defaultValue ['default'] */
  queues?: string[];
  /**
   * Priority aging: a task due for this many seconds competes one priority level higher (a low
   * task due for 3 × agingSeconds competes with critical ones), so no level starves. 0 = strict
   * priority. @defaultValue 300
   */
  agingSeconds?: number;
  /** How often the list of this worker's queues that have a concurrency limit is re-read. @defaultValue 5000 */
  limitsRefreshMs?: number;
  /** Fire due cron schedules (task_schedules) from this worker; each slot fires once cluster-wide. @defaultValue true */
  schedules?: boolean;
  /** How often schedules are evaluated. @defaultValue 1000 */
  scheduleIntervalMs?: number;
  /** Handlers running at once. @defaultValue 8 */
  concurrency?: number;
  /**
   * Extra tasks claimed ahead and held locally, so a free slot never waits for a round trip.
   * They hold a lease (and are handed back on shutdown). @defaultValue concurrency
   */
  prefetch?: number;
  /** Lease length; a running task not renewed for this long is recovered by any worker. @defaultValue 30 */
  leaseSeconds?: number;
  /** Lease renewal interval (also how soon a cancel reaches a running handler). @defaultValue 5 */
  heartbeatSeconds?: number;
  /** Executions per task, on every path (failure, timeout, lease expiry). @defaultValue 3 */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /** Per-type handler timeout in ms; on expiry the signal fires and the attempt fails. A task's own timeout_seconds wins. */
  timeouts?: Record<string, number>;
  /** Timeout for types not in `timeouts`; 0 = none. @defaultValue 0 */
  defaultTimeoutMs?: number;
  /** Largest result (JSON bytes) stored; a larger one fails the task without retry. @defaultValue 1048576 */
  resultMaxBytes?: number;
  /** Poll for work this often even without notifications (run_after, missed NOTIFYs). @defaultValue 1000 */
  pollIntervalMs?: number;
  /** How often this worker sweeps for expired leases and stuck dependents. @defaultValue min(5000, leaseSeconds·500) */
  recoveryIntervalMs?: number;
  /** Also recover tasks of registry instances that are dead or silent. @defaultValue true */
  recoverDeadOwners?: boolean;
  /** Worker identity written to owner_id / locked_by. @defaultValue `<host>:<pid>:<random>` */
  ownerId?: string;
  /** Provides ctx.facts (implemented in src/facts); without it ctx.facts methods throw. */
  taskFacts?: (db: Db, taskId: string) => TaskFacts;
  logger?: TaskLogger;
  /** Observe what happens (tests, metrics). */
  onEvent?: (e: DispatcherEvent) => void;
  /** LISTEN seedcore_tasks for immediate wake-ups. @defaultValue true */
  listen?: boolean;
}

export type DispatcherEvent =
  | { kind: 'claimed'; count: number }
  | { kind: 'started'; task: TaskRecord }
  | { kind: 'completed'; id: string }
  | { kind: 'failed'; id: string; error: string; final: boolean }
  | { kind: 'lost'; id: string; reason: string }
  | { kind: 'recovered'; ids: string[] }
  | { kind: 'error'; where: string; error: unknown };

/** A task this worker holds a lease on. */
export interface Held {
  task: TaskRecord;
  owner: string;
  state: 'buffered' | 'running' | 'finished';
  controller: AbortController;
  timer?: NodeJS.Timeout;
  progress?: { done: number; total?: number };
}

const noopLogger: TaskLogger = { info() {}, warn() {}, error() {} };

export class Dispatcher {
  readonly options: Required<Pick<DispatcherOptions, 'concurrency' | 'prefetch' | 'leaseSeconds' | 'heartbeatSeconds' | 'maxAttempts' | 'pollIntervalMs'>>;
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
  private claiming = false;
  private idle = false;
  private wake = false;
  private paused = false;
  private stopping = false;
  private started = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private unlisten: (() => Promise<void>) | undefined;
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
    if (!o || typeof o.handlers !== 'object' || o.handlers === null) throw invalidInput('dispatcher: handlers (type → async function) are required');
    for (const [t, h] of Object.entries(o.handlers)) if (typeof h !== 'function') throw invalidInput(`dispatcher: handler for '${t}' is not a function`);
    this.types = o.types ?? Object.keys(o.handlers);
    for (const t of this.types) if (!o.handlers[t]) throw invalidInput(`dispatcher: no handler for type '${t}'`);
    const concurrency = o.concurrency ?? 8;
    const num = (name: string, v: number, min: number): number => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw invalidInput(`dispatcher: ${name} must be a number ≥ ${min}`);
      return v;
    };
    this.options = {
      concurrency: num('concurrency', concurrency, 1),
      prefetch: num('prefetch', o.prefetch ?? concurrency, 0),
      leaseSeconds: num('leaseSeconds', o.leaseSeconds ?? 30, 0.1),
      heartbeatSeconds: num('heartbeatSeconds', o.heartbeatSeconds ?? 5, 0.01),
      maxAttempts: num('maxAttempts', o.maxAttempts ?? 3, 1),
      pollIntervalMs: num('pollIntervalMs', o.pollIntervalMs ?? 1000, 5),
    };
    if (this.options.heartbeatSeconds >= this.options.leaseSeconds) throw invalidInput('dispatcher: heartbeatSeconds must be shorter than leaseSeconds');
    this.queues = o.queues ?? ['default'];
    if (!Array.isArray(this.queues) || this.queues.length === 0 || this.queues.some((q) => typeof q !== 'string' || q.length < 1 || q.length > 200))
      throw invalidInput('dispatcher: queues must be a non-empty array of queue names (1–200 characters)');
    this.agingSeconds = num('agingSeconds', o.agingSeconds ?? 300, 0);
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
        this.unlisten = await this.db.listen('seedcore_tasks', () => this.onNotify());
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
    await this.unlisten?.().catch(() => undefined);
    const unstarted = this.buffer.splice(0);
    for (const h of unstarted) {
      h.state = 'finished';
      this.held.delete(h.task.id);
    }
    await this.handBack(unstarted, false);
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

  private onNotify(): void {
    this.wake = true;
    this.idle = false;
    this.pump();
  }

  private pump(): void {
    if (this.stopping || !this.started) return;
    while (this.running < this.options.concurrency && this.buffer.length > 0) this.run(this.buffer.shift() as Held);
    this.maybeClaim();
  }

  private maybeClaim(): void {
    if (this.claiming || this.paused || this.stopping || this.claimRetryTimer) return;
    if (this.idle && !this.wake) return;
    const capacity = this.options.concurrency + this.options.prefetch - this.running - this.buffer.length;
    // Claim when a slot is free, or when the prefetch buffer has drained to half.
    if (capacity <= 0 || (this.running >= this.options.concurrency && this.buffer.length > this.options.prefetch / 2)) return;
    this.claiming = true;
    this.wake = false;
    const owner = this.owner;
    this.claim(owner, capacity)
      .then((tasks) => {
        this.claiming = false;
        if (tasks.length < capacity && !this.wake) this.idle = true;
        if (tasks.length > 0) this.opts.onEvent?.({ kind: 'claimed', count: tasks.length });
        for (const task of tasks) {
          const h: Held = { task, owner, state: 'buffered', controller: new AbortController() };
          this.held.set(task.id, h);
          this.buffer.push(h);
        }
        if (this.stopping) {
          // stop() began while this claim was in flight: hand these straight back.
          const unstarted = this.buffer.splice(0);
          for (const h of unstarted) this.held.delete(h.task.id);
          void this.handBack(unstarted, false);
          return;
        }
        this.pump();
      })
      .catch((e: unknown) => {
        this.claiming = false;
        this.emitError('claim', e);
        // Database away (restart, network): try again shortly, without spinning.
        this.claimRetryTimer = setTimeout(() => {
          this.claimRetryTimer = undefined;
          this.idle = false;
          this.pump();
        }, 500);
      });
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
    this.opts.onEvent?.({ kind: 'started', task });
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
      );
  }

  /** Record the attempt's outcome once (handler result, throw, timeout or shutdown). */
  private finish(h: Held, error: unknown, result?: unknown): void {
    if (h.state !== 'running') return;
    h.state = 'finished';
    if (h.timer) clearTimeout(h.timer);
    this.running--;
    const id = h.task.id;
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
      if (error instanceof SeedCoreError && error.code === 'SEEDCORE_TIMEOUT') h.controller.abort(error);
      if (error === this.shutdownError) {
        h.controller.abort(error);
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
      this.opts.onEvent?.({ kind: 'lost', id, reason: 'outcome not recorded: task cancelled or lease taken over' });
      this.log.warn('outcome discarded: task no longer owned', { taskId: id });
    } else this.opts.onEvent?.({ id, ...outcome });
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
    h.controller.abort(new SeedCoreError('SEEDCORE_CONFLICT', reason));
    if (wasRunning) {
      this.running--;
      if (this.running === 0 && this.drained) this.drained();
    }
    this.opts.onEvent?.({ kind: 'lost', id: h.task.id, reason });
    this.log.warn('task lost', { taskId: h.task.id, reason });
    this.pump();
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
        this.opts.onEvent?.({ kind: 'recovered', ids: moved.map((m) => m.id) });
        this.log.warn('recovered abandoned tasks', { count: moved.length });
      }
      await healCreated(this.db);
    } catch (e) {
      this.emitError('recover', e);
    } finally {
      this.recovering = false;
    }
  }

  private emitError(where: string, error: unknown): void {
    this.opts.onEvent?.({ kind: 'error', where, error });
    this.log.error(`dispatcher ${where} failed`, { error: error instanceof Error ? error.message : String(error) });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
