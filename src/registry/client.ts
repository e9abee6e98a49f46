/**
 * RegistryClient: one process's membership in the runtime registry.
 *
 * start(): register a fresh instance in the current epoch → alive → beat() every
 * base + random(jitter) ms. beat() returning false means the database has fenced this
 * instance (dead, epoch rotated, or it missed the liveness window); a fenced instance is never
 * revived: the client registers a NEW instance and emits 'fenced' then 'registered'.
 * close(): draining → dead. Liveness is decided by the database clock only; the process clock
 * only paces the timer.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname, networkInterfaces } from 'node:os';
import type { Db } from '../db/types.js';
import { invalidInput, isSeedCoreError } from '../errors.js';
import { currentEpoch, livenessSeconds } from './queries.js';

export interface RegistryLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface RegistryClientOptions {
  /** Logical (named-actor) id; replicas may share it. */
  logicalId: string;
  /** @defaultValue logicalId */
  actorName?: string;
  /** Route or URL where this instance serves requests. @defaultValue null */
  serveRoute?: string | null;
  /** Beat every heartbeatBaseMs + random(0..heartbeatJitterMs). @defaultValue 3000 (the original's 3 s) */
  heartbeatBaseMs?: number;
  /** @defaultValue 2000 */
  heartbeatJitterMs?: number;
  /** First retry delay after a failed beat (database unreachable); doubles up to backoffMaxMs. @defaultValue 500 */
  backoffMinMs?: number;
  /** @defaultValue 10000 */
  backoffMaxMs?: number;
  /** Close (draining → dead) on SIGTERM, then let the signal take its default course. @defaultValue false */
  closeOnSigterm?: boolean;
  /** Where fencing and re-registration are reported. @defaultValue warnings to stderr */
  logger?: RegistryLogger;
}

export interface RegisteredEvent {
  instanceId: string;
  /** The fenced instance this one replaces; null on first start. */
  previousInstanceId: string | null;
  epoch: string;
}

export interface FencedEvent {
  instanceId: string;
}

export interface RegistryClientEvents {
  registered: [RegisteredEvent];
  fenced: [FencedEvent];
  beat: [{ instanceId: string }];
  error: [unknown];
  closed: [];
}

const stderrLogger: RegistryLogger = {
  info: () => undefined,
  warn: (msg, fields) => process.stderr.write(`seedcore registry: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`),
};

/** First non-internal IPv4 address of this host, else 127.0.0.1. */
export function hostIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export class RegistryClient extends EventEmitter<RegistryClientEvents> {
  readonly logicalId: string;
  private readonly opts: Required<Omit<RegistryClientOptions, 'serveRoute' | 'logger'>> & { serveRoute: string | null; logger: RegistryLogger };
  private id: string | null = null;
  private epoch: string | null = null;
  private starting: Promise<string> | null = null;
  private closing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> | null = null;
  private failures = 0;
  private fencedId: string | null = null;
  private beats = 0;
  /** performance.now() before the last heartbeat the database accepted (or the registration). */
  private confirmedAt = 0;
  private livenessMs = 15_000;
  private readonly onSigterm = () => void this.handleSigterm();

  constructor(
    private readonly db: Db,
    options: RegistryClientOptions,
  ) {
    super();
    if (typeof options?.logicalId !== 'string' || options.logicalId.trim() === '')
      throw invalidInput('logicalId must be a non-empty string', { field: 'logicalId' });
    const num = (name: string, v: number | undefined, dflt: number, min: number) => {
      const x = v ?? dflt;
      if (!Number.isFinite(x) || x < min) throw invalidInput(`${name} must be a number >= ${min}`, { field: name });
      return x;
    };
    this.logicalId = options.logicalId;
    this.opts = {
      logicalId: options.logicalId,
      actorName: options.actorName ?? options.logicalId,
      serveRoute: options.serveRoute ?? null,
      heartbeatBaseMs: num('heartbeatBaseMs', options.heartbeatBaseMs, 3000, 1),
      heartbeatJitterMs: num('heartbeatJitterMs', options.heartbeatJitterMs, 2000, 0),
      backoffMinMs: num('backoffMinMs', options.backoffMinMs, 500, 1),
      backoffMaxMs: num('backoffMaxMs', options.backoffMaxMs, 10_000, 1),
      closeOnSigterm: options.closeOnSigterm ?? false,
      logger: options.logger ?? stderrLogger,
    };
  }

  /** The current instance id (changes after fencing); null before start. */
  get instanceId(): string | null {
    return this.id;
  }

  /** Epoch the current instance registered in. */
  get clusterEpoch(): string | null {
    return this.epoch;
  }

  /** Successful beats since start (all incarnations). */
  get beatCount(): number {
    return this.beats;
  }

  /**
   * Whether this process may still act as its instance, judged conservatively on the process's
   * monotonic clock: less than the liveness window minus a margin since the start of the last
   * heartbeat the database accepted. It can only turn false sooner than the database would
   * expire the instance, never later (River's trust window); e.g. after a long pause or while
   * the database is unreachable. Check it before a privileged action outside the database.
   */
  get trusted(): boolean {
    if (!this.id || this.closing || this.fencedId) return false;
    return performance.now() < this.trustedUntil;
  }

  /**
   * performance.now() until which `trusted` holds (−Infinity when closed or fenced): the
   * dispatcher's self-fence deadline for a registered worker (the contract is in
   * src/tasks/timing.ts). The database declares the instance dead no earlier than
   * livenessMs after the last accepted beat LANDED; this is measured from when it was SENT,
   * minus a margin, so it always comes first.
   */
  get trustedUntil(): number {
    if (!this.id || this.closing || this.fencedId) return Number.NEGATIVE_INFINITY;
    return this.confirmedAt + this.livenessMs - Math.min(2000, this.livenessMs / 5);
  }

  /** The last heartbeat landed (false while beats fail, and until a fenced instance re-registered). */
  get healthy(): boolean {
    return this.failures === 0 && this.trusted;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Register and go alive; idempotent (a second call returns the same instance id). */
  start(): Promise<string> {
    if (this.closing) return Promise.reject(invalidInput('this RegistryClient is closed; create a new one'));
    this.starting ??= (async () => {
      try {
        const id = await this.register(null);
        if (this.opts.closeOnSigterm) process.on('SIGTERM', this.onSigterm);
        this.schedule(this.interval());
        return id;
      } catch (e) {
        this.starting = null;
        throw e;
      }
    })();
    return this.starting;
  }

  /** One heartbeat now: true if the database accepted it (false: this instance was fenced). */
  async beatOnce(): Promise<boolean> {
    const id = this.id;
    if (!id) throw invalidInput('the RegistryClient has not started');
    const sentAt = performance.now();
    const r = await this.db.query<{ ok: boolean }>('SELECT beat($1::uuid) AS ok', [id]);
    const ok = r.rows[0]?.ok === true;
    if (ok) {
      this.beats++;
      if (this.id === id) this.confirmedAt = sentAt;
      this.emit('beat', { instanceId: id });
    }
    return ok;
  }

  /** draining → dead and stop beating; idempotent. Resolves when no beat can follow. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      process.off('SIGTERM', this.onSigterm);
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.starting?.catch(() => undefined);
      await this.inflight;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      const id = this.id;
      if (id) {
        for (const status of ['draining', 'dead']) {
          try {
            await this.db.query('SELECT set_instance_status($1::uuid, $2::instancestatus)', [id, status]);
          } catch (e) {
            // Already dead (fenced or expired) is the outcome we wanted; anything else is reported.
            if (!isSeedCoreError(e, 'SEEDCORE_CONFLICT')) this.report(e);
            break;
          }
        }
      }
      this.emit('closed');
    })();
    return this.closing;
  }

  private interval(): number {
    return this.opts.heartbeatBaseMs + Math.random() * this.opts.heartbeatJitterMs;
  }

  private async register(previous: string | null): Promise<string> {
    const id = randomUUID();
    const sentAt = performance.now();
    const epoch = await currentEpoch(this.db);
    this.livenessMs = (await livenessSeconds(this.db)) * 1000;
    await this.db.query('SELECT register_instance($1::uuid, $2, $3::uuid, $4, $5, $6, $7::inet, $8::int)', [
      id,
      this.opts.logicalId,
      epoch,
      this.opts.actorName,
      this.opts.serveRoute,
      hostname(),
      hostIp(),
      process.pid,
    ]);
    await this.db.query("SELECT set_instance_status($1::uuid, 'alive')", [id]);
    this.id = id;
    this.epoch = epoch;
    this.confirmedAt = sentAt;
    this.opts.logger.info('registered', { instanceId: id, logicalId: this.logicalId, epoch, previousInstanceId: previous });
    this.emit('registered', { instanceId: id, previousInstanceId: previous, epoch });
    return id;
  }

  private schedule(ms: number): void {
    if (this.closing) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const started = Date.now();
      this.inflight = this.tick().finally(() => {
        this.inflight = null;
      });
      void this.inflight.then(() => {
        if (this.failures > 0) {
          this.schedule(Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** (this.failures - 1)));
        } else {
          // Pace from the start of this beat so database latency does not stretch the cadence.
          this.schedule(Math.max(0, this.interval() - (Date.now() - started)));
        }
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    if (this.closing) return;
    const old = this.id as string;
    try {
      if (this.fencedId) {
        // A previous re-registration failed (database unreachable): retry it, do not beat.
        await this.register(this.fencedId);
        this.fencedId = null;
        this.failures = 0;
        return;
      }
      if (await this.beatOnce()) {
        this.failures = 0;
        return;
      }
      if (this.closing) return;
      // Fenced: the database marked this instance dead (or it was already). Never revive it.
      this.opts.logger.warn('instance fenced (dead, old epoch or missed the liveness window); registering a new instance', {
        instanceId: old,
        logicalId: this.logicalId,
      });
      this.emit('fenced', { instanceId: old });
      this.fencedId = old;
      await this.register(old);
      this.fencedId = null;
      this.failures = 0;
    } catch (e) {
      this.failures++;
      this.report(e);
    }
  }

  /** 'error' events without a listener would throw from a timer and kill the process: log instead. */
  private report(e: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', e);
    else this.opts.logger.warn('registry error (will retry)', { instanceId: this.id, error: e instanceof Error ? e.message : String(e) });
  }

  private async handleSigterm(): Promise<void> {
    await this.close();
    // Nobody else handles SIGTERM: restore the default action and deliver it again.
    if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
  }
}
