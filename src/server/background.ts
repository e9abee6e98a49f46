/**
 * Background work `seedcore serve` runs in-process: a worker composed by src/worker/compose.ts
 * that joins the runtime registry (heartbeat and the cluster-wide reconciler) and runs the
 * built-in handlers under its registry instance id, feeding its events into the Prometheus
 * metrics.
 * Stopping reverses that: the dispatcher drains, then the instance goes draining → dead.
 */
import type { FastifyBaseLogger } from 'fastify';
import { SeedCoreError } from '../errors.js';
import type { SeedCore } from '../seedcore.js';
import type { DispatcherEvent } from '../tasks/dispatcher.js';
import type { OrganOptions } from '../tasks/dispatcher-options.js';
import type { ServerMetrics } from './metrics.js';

export interface Background {
  /** What is running, e.g. ['registry', 'dispatcher']. */
  features: string[];
  /** The registry instance id this process claims tasks as. */
  instanceId?: string;
  stop(): Promise<void>;
}

export interface BackgroundOptions {
  /** Handlers running at once. @defaultValue 4 */
  concurrency?: number;
  /** How long running handlers may finish on shutdown before they are aborted. @defaultValue 4000 (serve must exit within 10 s) */
  graceMs?: number;
  /** Registry logical id. @defaultValue 'seedcore-serve' (an organ: its organ id) */
  logicalId?: string;
  /** Serve as this organ (registered under the organ id, with its offer). */
  organ?: OrganOptions;
}

/** Turn dispatcher events into metrics: claims, outcomes, handler durations, recoveries. */
export function metricsObserver(metrics: ServerMetrics): (e: DispatcherEvent) => void {
  const started = new Map<string, { type: string; at: bigint }>();
  const finish = (id: string, outcome: string) => {
    const s = started.get(id);
    started.delete(id);
    if (!s) return;
    metrics.taskCompletions.inc({ type: s.type, outcome });
    metrics.handlerDuration.observe({ type: s.type, outcome }, Number(process.hrtime.bigint() - s.at) / 1e9);
  };
  return (e) => {
    switch (e.kind) {
      case 'claimed':
        metrics.taskClaims.inc(e.count);
        break;
      case 'started':
        started.set(e.task.id, { type: e.task.type, at: process.hrtime.bigint() });
        break;
      case 'completed':
        finish(e.id, 'completed');
        break;
      case 'failed':
        finish(e.id, e.final ? 'failed' : 'retry');
        break;
      case 'lost':
        finish(e.id, 'lost');
        break;
      case 'recovered':
        metrics.leaseRecoveries.inc(e.ids.length);
        break;
      default:
        break;
    }
  };
}

export async function startBackground(
  core: SeedCore,
  metrics: ServerMetrics,
  url: string,
  log: FastifyBaseLogger,
  options: BackgroundOptions = {},
): Promise<Background> {
  const logger = {
    info: (msg: string, fields?: Record<string, unknown>) => log.info(fields ?? {}, msg),
    warn: (msg: string, fields?: Record<string, unknown>) => log.warn(fields ?? {}, msg),
    error: (msg: string, fields?: Record<string, unknown>) => log.error(fields ?? {}, msg),
  };
  // A standby can neither register nor claim: say so instead of failing on the first write.
  if (await core.db.isStandby())
    throw new SeedCoreError(
      'SEEDCORE_UNAVAILABLE',
      `background work (dispatcher, registry heartbeat) needs a writable primary; ${core.db.description} is a read-only standby`,
    );
  const observe = metricsObserver(metrics);
  const worker = core.createDispatcher({
    builtins: true,
    handlers: {},
    concurrency: options.concurrency ?? 4,
    registry: { ...(options.organ ? {} : { logicalId: options.logicalId ?? 'seedcore-serve' }), actorName: 'serve', serveRoute: url },
    ...(options.organ ? { organ: options.organ } : {}),
    logger,
    onEvent: (e) => {
      observe(e);
      if (e.kind === 'error') log.warn({ err: e.error, where: e.where }, 'dispatcher error');
    },
  });
  await worker.start();
  return {
    features: ['registry', 'dispatcher'],
    ...(worker.instanceId !== undefined ? { instanceId: worker.instanceId } : {}),
    stop: () => worker.stop({ graceMs: options.graceMs ?? 4000 }),
  };
}
