/**
 * Server-sent events for the dashboard (GET /api/events). One hub per server: it LISTENs on
 * `seedcore_tasks` (sent when claimable work is inserted) and also ticks every `tickMs`,
 * because most changes (a task completing, an instance beating) send no notification. Each
 * event carries the task overview so a client can update its counts without another request
 * and refetch lists only when `version` changed.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../db/types.js';
import { taskOverview, instancesAlive, type TaskOverview } from './overview.js';

export interface OverviewEvent extends TaskOverview {
  reason: 'hello' | 'notify' | 'tick';
  instancesAlive: number;
}

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private unlisten: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private notifyTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly log: FastifyBaseLogger,
    private readonly tickMs: number,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.db.listen('seedcore_tasks', () => this.onNotify());
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
    if (this.unlisten) await this.unlisten().catch(() => undefined);
  }
}
