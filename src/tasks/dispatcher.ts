/**
 * The Dispatcher: a worker's task loop, composed of named parts:
 * - fetching.ts: claims ahead of free slots (modes and transitions documented there);
 * - execution.ts: runs handlers with timeouts and turns their ends into outcomes;
 * - outcomes.ts: writes outcomes in batches, retried while the lease is ours;
 * - lease-keeper.ts: renews leases, reacts to cancels, self-fences (contract in timing.ts);
 * - maintenance.ts: recovery, expiry, healing and schedules, one elected process per pass.
 * Defaults and the reasons for them are in defaults.ts.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { BackgroundSubscription } from '../db/subscription.js';
import type { Db } from '../db/types.js';
import { SeedCoreError } from '../errors.js';
import { cancelDependents } from './dependencies.js';
import { resolveOptions, type DispatcherEvent, type DispatcherOptions, type Held, type ResolvedOptions } from './dispatcher-options.js';
import { Execution } from './execution.js';
import { Fetcher, type FetchMode } from './fetching.js';
import { handBack } from './hand-back.js';
import { Holdings } from './holdings.js';
import { LeaseKeeper } from './lease-keeper.js';
import { Maintenance } from './maintenance.js';
import { OutcomeWriter, type WrittenOutcome } from './outcomes.js';
import type { MembershipClock } from './timing.js';
import type { TaskLogger } from './types.js';
import { DEFAULTS } from './defaults.js';

export type { DispatcherEvent, DispatcherOptions, Held } from './dispatcher-options.js';
export type { FetchMode } from './fetching.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const noopLogger: TaskLogger = { info() {}, warn() {}, error() {} };

type Phase = 'new' | 'running' | 'stopping' | 'stopped';

export class Dispatcher {
  readonly options: ResolvedOptions;
  private owner: string;
  private readonly types: string[];
  private phase: Phase = 'new';
  private membership: MembershipClock | undefined;
  private readonly log: TaskLogger;
  private readonly holdings = new Holdings();
  private readonly writer: OutcomeWriter;
  private readonly fetcher: Fetcher;
  private readonly execution: Execution;
  private readonly leases: LeaseKeeper;
  private readonly maintenance: Maintenance;
  private readonly timers: NodeJS.Timeout[] = [];
  private wakeUps: BackgroundSubscription | undefined;

  constructor(
    readonly db: Db,
    private readonly opts: DispatcherOptions,
  ) {
    ({ options: this.options, types: this.types } = resolveOptions(opts));
    this.owner = opts.ownerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.membership = opts.membership;
    this.log = opts.logger ?? noopLogger;
    const emit = (e: DispatcherEvent): void => this.emit(e);
    const onError = (where: string, e: unknown): void => this.emitError(where, e);
    this.writer = new OutcomeWriter(db, {
      onWritten: (id, outcome) => this.onWritten(id, outcome),
      onError,
      afterFail: cancelDependents,
      stillOurs: (id) => this.leases.stillOurs(id),
    });
    this.fetcher = new Fetcher({
      db,
      options: this.options,
      types: this.types,
      holdings: this.holdings,
      owner: () => this.owner,
      // Registered: every claim is checked against the owner's registry row, also in the moment
      // between a re-registration and resumeClaiming() (the old, dead id then claims nothing).
      registeredInstance: () => (this.membership && UUID.test(this.owner) ? this.owner : null),
      onClaimed: (count) => {
        this.emit({ kind: 'claimed', count });
        this.pump();
      },
      onLateClaim: (list) => this.handBack(list, false),
      onError,
    });
    this.execution = new Execution({
      db,
      opts,
      options: this.options,
      holdings: this.holdings,
      writer: this.writer,
      log: this.log,
      emit,
      onError,
      onSlotFree: () => this.pump(),
      heartbeat: (h) => this.leases.heartbeat(h),
    });
    this.leases = new LeaseKeeper({
      db,
      options: this.options,
      holdings: this.holdings,
      execution: this.execution,
      fetcher: this.fetcher,
      membership: () => this.membership,
      log: this.log,
      emit,
      onError,
    });
    this.maintenance = new Maintenance({
      db,
      options: this.options,
      recoverDeadOwners: opts.recoverDeadOwners !== false,
      schedules: opts.schedules !== false,
      log: this.log,
      emit,
      onError,
    });
  }

  /** The owner id new claims are made under. */
  get ownerId(): string {
    return this.owner;
  }

  /** What the fetcher is doing (see fetching.ts for the modes). */
  get fetchMode(): FetchMode {
    return this.fetcher.current;
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
      running: this.holdings.running,
      buffered: this.holdings.buffer.length,
      paused: this.fetcher.paused,
      stopping: this.phase === 'stopping' || this.phase === 'stopped',
      tasks: [...this.holdings.held.values()].map((h) => ({
        id: h.task.id,
        type: h.task.type,
        state: h.state,
        ...(h.progress ? { progress: h.progress } : {}),
      })),
    };
  }

  /**
   * Registry membership (attachRegistry calls this): claims then require the instance to be
   * alive, and the self-fence deadline follows its heartbeat too.
   */
  useMembership(m: MembershipClock): void {
    this.membership = m;
  }

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new SeedCoreError('SEEDCORE_CONFLICT', 'dispatcher already started');
    this.phase = 'running';
    const listen = this.opts.listen !== false;
    // Not awaited: LISTEN is only the fast path (polling finds the work), and behind a
    // transaction-mode pooler it waits for the listener's notification probe (see subscription.ts).
    if (listen) {
      this.wakeUps = new BackgroundSubscription(
        this.db,
        'seedcore_tasks',
        () => this.fetcher.wake(true),
        (e) => this.emitError('listen', e),
      );
      // A task submitted before LISTEN landed sent its NOTIFY to nobody: look once more then.
      void this.wakeUps.ready().then(() => this.fetcher.wake());
    }
    this.leases.start(listen);
    // Until the listener knows whether notifications arrive (behind a transaction-mode pooler
    // its probe takes 2 s), poll as if they did not; checkNotifications() settles the interval.
    this.poll(listen ? this.fastPollMs() : this.options.pollIntervalMs);
    const limits = setInterval(() => void this.fetcher.refreshLimits(), this.options.limitsRefreshMs);
    this.timers.push(limits);
    if (listen) void this.checkNotifications();
    this.maintenance.start();
    this.log.info('dispatcher started', { ownerId: this.owner, types: this.types, ...this.options });
    this.fetcher.start();
    this.pump();
  }

  private pollTimer: NodeJS.Timeout | undefined;

  private poll(ms: number): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = setInterval(() => this.fetcher.wake(), ms);
  }

  /**
   * Behind a transaction-mode pooler or on a standby, notifications never arrive (the
   * database layer finds out by itself and logs it once): then poll more often.
   */
  private fastPollMs(): number {
    return Math.min(this.options.pollIntervalMs, DEFAULTS.pollWithoutNotificationsMs);
  }

  private async checkNotifications(): Promise<void> {
    let works = false;
    try {
      works = await this.db.notificationsWork();
    } catch (e) {
      this.emitError('listen', e);
    }
    if (this.phase !== 'running') return;
    if (works) {
      this.poll(this.options.pollIntervalMs);
      return;
    }
    const ms = this.fastPollMs();
    this.poll(ms);
    // The database layer has already said once why notifications do not arrive.
    this.log.info('dispatcher polls for work more often without notifications', { pollIntervalMs: ms });
  }

  /** Stop claiming new tasks; running ones continue (registry fencing). */
  pauseClaiming(): void {
    this.fetcher.pause('registry');
  }

  /** Claim again, optionally under a new owner id; tasks in flight keep their claim-time owner. */
  resumeClaiming(newOwnerId?: string): void {
    if (newOwnerId !== undefined) this.owner = newOwnerId;
    this.fetcher.resume('registry');
    this.fetcher.wake();
  }

  /**
   * Drain: stop claiming, hand prefetched tasks back, let running handlers finish for up to
   * `graceMs`, then abort the rest (signal fires) and hand them back (the attempt counts),
   * flush outcomes (leases are renewed until they land) and stop timers. Resolves when done.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return;
    const started = this.phase === 'running';
    this.phase = 'stopping';
    await this.wakeUps?.close();
    await this.leases.stopListening();
    this.maintenance.stop();
    const fetching = this.fetcher.stop();
    const unstarted = this.holdings.takeBuffered();
    await this.handBack(unstarted, false);
    await fetching;
    await this.holdings.whenIdle(options.graceMs ?? DEFAULTS.stopGraceMs);
    const interrupted = [...this.holdings.held.values()].filter((h) => h.state === 'running');
    for (const h of interrupted) this.execution.finish(h, this.execution.shutdownError);
    await this.handBack(interrupted, true);
    await this.writer.drain();
    this.leases.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.phase = 'stopped';
    if (started) this.log.info('dispatcher stopped', { ownerId: this.owner, interrupted: interrupted.length, returned: unstarted.length });
  }

  private handBack(list: Held[], started: boolean): Promise<void> {
    const rows = list.map((h) => ({ id: h.task.id, owner: h.owner, started, maxAttempts: this.options.maxAttempts }));
    return handBack(this.db, rows, (e) => this.emitError('release', e));
  }

  private pump(): void {
    if (this.phase !== 'running') return;
    this.execution.fill();
    this.fetcher.maybeClaim();
  }

  private onWritten(id: string, outcome: WrittenOutcome): void {
    const had = this.holdings.held.delete(id);
    if (outcome.kind === 'lost') {
      // Already reported when the lease keeper gave the task up.
      if (!had) return;
      this.emit({ kind: 'lost', id, reason: 'outcome not recorded: task cancelled or lease taken over' });
      this.log.warn('outcome discarded: task no longer owned', { taskId: id });
    } else this.emit({ id, ...outcome });
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
