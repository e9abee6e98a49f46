/**
 * LISTEN on a dedicated connection. It reconnects with backoff and re-subscribes every channel
 * after the connection drops (server restart, dropped route found by TCP keepalive or by the
 * periodic liveness probe). Notifications sent while it was down are lost, which is why
 * workers also poll.
 *
 * After each (re)connect it checks that notifications really arrive: it NOTIFYs a private
 * probe channel through the normal (possibly pooled) connection and waits briefly. Behind a
 * transaction-mode pooler LISTEN "succeeds" but nothing is ever delivered, and on a standby
 * LISTEN fails; in both cases the listener closes its connection, logs once, and from then on
 * `working()` is false so callers rely on polling.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import pg from 'pg';
import { isConnectionError } from '../errors.js';

export interface DbLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** How long a NOTIFY sent to ourselves may take to arrive before we conclude none will. */
export const PROBE_WAIT_MS = 2000;
/** How often an idle listener checks that its connection still answers (and how long it waits). */
const LIVENESS_EVERY_MS = 15_000;
const LIVENESS_TIMEOUT_MS = 5000;

export interface ListenerOptions {
  config: pg.ClientConfig;
  /** Where LISTEN goes (redacted), for the log. */
  description: string;
  /** Send NOTIFY on `channel` through the normal connection (the path real notifications take). */
  notify(channel: string): Promise<void>;
  log: DbLogger;
}

type State = 'unknown' | 'working' | 'unavailable';

/** Stop a client without waiting: a dead route would make a polite end() wait for TCP. */
function discard(client: pg.Client): void {
  client.removeAllListeners('end');
  client.removeAllListeners('error');
  client.on('error', () => undefined);
  const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  client.end().catch(() => undefined);
  stream?.destroy();
}

export class Listener {
  private client: pg.Client | undefined;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private connecting: Promise<void> | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private state: State = 'unknown';
  /** Settles when the current connection's probe is done. */
  private checked: Promise<boolean> | undefined;
  private onProbe: (() => void) | undefined;
  /** Ends the probe's wait at once with no verdict (close() while it waits). */
  private abortProbe: (() => void) | undefined;
  /** Probes queued or waiting for their NOTIFY. */
  private probesPending = 0;
  private readonly probeChannel = `seedcore_probe_${randomBytes(6).toString('hex')}`;
  /** Channels LISTENed on the current connection. */
  private listening = new Set<string>();
  /**
   * Statements on the listener's connection and probes run one at a time: behind a pooler, a
   * LISTEN running while the probe's NOTIFY commits would receive it (the connection is
   * linked to a server connection just then) and fake a working setup.
   */
  private serial: Promise<unknown> = Promise.resolve();

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.serial.then(op, op);
    this.serial = run.catch(() => undefined);
    return run;
  }

  constructor(private readonly o: ListenerOptions) {}

  /**
   * Add a handler. Never throws for connection trouble: LISTEN is only the fast path, so a
   * listener that cannot connect retries in the background while callers poll.
   */
  async subscribe(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    const isNew = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(fn);
    const unsubscribe = async (): Promise<void> => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) {
        this.handlers.delete(channel);
        const client = this.client;
        if (!client || !this.listening.delete(channel)) return;
        const unlisten = this.enqueue(async () => {
          if (this.client === client) await client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`);
        }).catch(() => undefined);
        // The handler is gone, so nothing is delivered any more. Behind a probe still waiting
        // (up to PROBE_WAIT_MS) the UNLISTEN runs once the probe is done, without holding the
        // caller (a worker's stop()) up: if the probe fails, the connection closes with every
        // LISTEN on it; if it succeeds, the UNLISTEN follows at once; close() ends both.
        if (this.probesPending === 0) await unlisten;
      }
    };
    if (this.state === 'unavailable' || this.stopped) return unsubscribe;
    try {
      await this.ensureConnected();
      const client = this.client;
      if (isNew && client && !this.listening.has(channel)) {
        this.listening.add(channel);
        await this.enqueue(async () => {
          if (this.client === client) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        });
      }
    } catch (e) {
      if (isConnectionError(e)) this.scheduleReconnect(250);
      else this.giveUp(`LISTEN failed: ${(e as Error).message}`);
    }
    return unsubscribe;
  }

  /** Whether notifications arrive (waits for the probe in progress; connects if idle). */
  async working(): Promise<boolean> {
    if (this.state === 'unavailable' || this.stopped) return false;
    try {
      await this.ensureConnected();
    } catch {
      this.scheduleReconnect(250);
      return false;
    }
    return (await this.checked) ?? false;
  }

  private ensureConnected(): Promise<void> {
    if (this.client || this.state === 'unavailable') return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.o.config);
    client.on('notification', (msg) => {
      if (msg.channel === this.probeChannel) {
        this.onProbe?.();
        return;
      }
      for (const fn of this.handlers.get(msg.channel) ?? []) fn(msg.payload ?? '');
    });
    const onDrop = (): void => {
      if (this.client === client) this.client = undefined;
      discard(client);
      this.stopLiveness();
      this.scheduleReconnect(250);
    };
    client.on('error', onDrop);
    try {
      await client.connect();
    } catch (e) {
      discard(client);
      throw e;
    }
    const channels = [...this.handlers.keys()];
    try {
      await client.query(`LISTEN ${pg.escapeIdentifier(this.probeChannel)}`);
      for (const channel of channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (e) {
      // E.g. a standby: "cannot execute LISTEN during recovery". Close, never leave it open.
      discard(client);
      if (isConnectionError(e)) throw e;
      this.giveUp(`LISTEN failed: ${(e as Error).message}`);
      return;
    }
    client.on('end', onDrop);
    this.listening = new Set(channels);
    this.client = client;
    this.probesPending++;
    this.checked = this.enqueue(() => this.probe(client)).finally(() => {
      this.probesPending--;
    });
  }

  private async probe(client: pg.Client): Promise<boolean> {
    if (this.client !== client) return false; // closed or dropped while queued
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      this.onProbe = () => resolve(true);
      this.abortProbe = () => resolve(false);
      timer = setTimeout(() => resolve(false), PROBE_WAIT_MS);
    });
    let ok: boolean;
    try {
      await this.o.notify(this.probeChannel);
      ok = await arrived;
    } catch {
      // The normal connection is down: no verdict yet; the next reconnect probes again.
      return false;
    } finally {
      clearTimeout(timer);
      this.onProbe = undefined;
      this.abortProbe = undefined;
    }
    if (this.client !== client) return false;
    if (!ok) {
      this.giveUp(
        `a NOTIFY sent through the database connection did not reach the listener within ${PROBE_WAIT_MS} ms ` +
          '(a transaction-mode pooler such as PgBouncer does not deliver notifications; set SEEDCORE_LISTEN_URL to a direct connection)',
      );
      return false;
    }
    this.state = 'working';
    this.startLiveness(client);
    return true;
  }

  /** An idle connection whose route silently dropped looks healthy; ask it something now and then. */
  private startLiveness(client: pg.Client): void {
    this.stopLiveness();
    this.livenessTimer = setInterval(() => {
      const ping = { text: 'SELECT 1', query_timeout: LIVENESS_TIMEOUT_MS } as pg.QueryConfig;
      this.enqueue(() => client.query(ping)).catch(() => {
        if (this.client !== client) return;
        this.client = undefined;
        discard(client);
        this.stopLiveness();
        this.scheduleReconnect(250);
      });
    }, LIVENESS_EVERY_MS);
    this.livenessTimer.unref();
  }

  private stopLiveness(): void {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = undefined;
  }

  private giveUp(reason: string): void {
    if (this.state === 'unavailable') return;
    this.state = 'unavailable';
    this.checked = Promise.resolve(false);
    this.stopLiveness();
    const c = this.client;
    this.client = undefined;
    if (c) discard(c);
    this.o.log.warn('notifications do not arrive; relying on polling', { listen: this.o.description, reason });
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.stopped || this.retryTimer || this.state === 'unavailable') return;
    if (this.handlers.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.ensureConnected().catch(() => this.scheduleReconnect(Math.min(delayMs * 2, 5000)));
    }, delayMs);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stopLiveness();
    await this.connecting?.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    // A probe still waiting for its NOTIFY ends now (its timer would keep the process alive).
    this.abortProbe?.();
    if (c) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      // A polite end, but not longer than a second (a dead route would wait for TCP).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([c.end().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      discard(c);
    }
  }
}
