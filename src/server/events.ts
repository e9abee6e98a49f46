/**
 * Server-sent events for the dashboard (GET /api/events). One hub per server: it LISTENs on
 * `seedcore_tasks` (sent when claimable work is inserted) and also ticks every `tickMs`,
 * because most changes (a task completing, an instance beating) send no notification. Each
 * event carries the task overview so a client can update its counts without another request
 * and refetch lists only when `version` changed.
 *
 * The subscription is made in the background (src/db/subscription.ts): behind a
 * transaction-mode pooler without a listen URL, LISTEN waits for the listener's notification
 * probe (up to 2 s) and then never delivers, and the server's start and the first stream must
 * not wait for that. The tick is the fallback: without notifications a change reaches the
 * dashboard within `tickMs`.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { BackgroundSubscription } from '../db/subscription.js';
import type { Db } from '../db/types.js';
import { taskOverview, instancesAlive, type TaskOverview } from './overview.js';

export interface OverviewEvent extends TaskOverview {
  reason: 'hello' | 'notify' | 'tick';
  instancesAlive: number;
}

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private subscription: BackgroundSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private notifyTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly log: FastifyBaseLogger,
    private readonly tickMs: number,
  ) {}

  start(): void {
    this.subscription = new BackgroundSubscription(
      this.db,
      'seedcore_tasks',
      () => this.onNotify(),
      (e) => this.log.warn({ err: e }, 'event stream: LISTEN failed; updates come with the tick'),
    );
    this.timer = setInterval(() => void this.broadcast('tick'), this.tickMs);
    this.timer.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Take over a response as an event stream; the first event is sent at once. */
  async attach(res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Reconnect quickly if the server restarts.
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    const event = await this.snapshot('hello').catch(() => undefined);
    if (event) this.send(res, event);
  }

  private onNotify(): void {
    // Coalesce bursts of notifications (a busy queue) into one event per 50 ms.
    if (this.notifyTimer || this.stopped) return;
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = undefined;
      void this.broadcast('notify');
    }, 50);
  }

  private async snapshot(reason: OverviewEvent['reason']): Promise<OverviewEvent> {
    const [overview, alive] = await Promise.all([taskOverview(this.db), instancesAlive(this.db)]);
    return { reason, ...overview, instancesAlive: alive };
  }

  private send(res: ServerResponse, event: OverviewEvent): void {
    res.write(`event: overview\ndata: ${JSON.stringify(event)}\n\n`);
  }

  private async broadcast(reason: OverviewEvent['reason']): Promise<void> {
    if (this.clients.size === 0 || this.stopped) return;
    try {
      const event = await this.snapshot(reason);
      for (const res of this.clients) this.send(res, event);
    } catch (e) {
      this.log.warn({ err: e }, 'event stream: overview query failed');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    for (const res of this.clients) res.end();
    this.clients.clear();
    await this.subscription?.close();
  }
}
