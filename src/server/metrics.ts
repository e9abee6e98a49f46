/**
 * Prometheus metrics. Gauges that describe the database (tasks by status, instances alive,
 * recent runs, agent performance, unroutable tasks) are queried on scrape, so they are right
 * whichever process changed the data; the expensive aggregates among them are one snapshot
 * reused for the scrapes within a max-age (see MetricsOptions.maxAgeMs). HTTP request counts
 * and durations are measured in this process. Each server gets its own registry, so several
 * servers in one process (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/types.js';
import { instancesAlive, taskOverview } from './overview.js';
import { registerDurableMetrics } from '../tasks/durable/metrics.js';
import { registerAgentMetrics, snapshot } from '../agents/stats.js';
import { invalidInput } from '../errors.js';
import { registerRoutingMetrics } from '../agents/routing.js';

export interface ServerMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  /** Observed by the in-process dispatcher's hooks (see serve), in seconds. */
  handlerDuration: Histogram<'type' | 'outcome'>;
  taskClaims: Counter;
  taskCompletions: Counter<'type' | 'outcome'>;
  leaseRecoveries: Counter;
}

/** How long a scrape's run-window aggregates are reused, in ms. @defaultValue 5000 */
export const METRICS_MAX_AGE_MS = 5000;

/** SEEDCORE_METRICS_MAX_AGE_MS, checked (SEEDCORE_INVALID_INPUT); serve checks it before opening the database. */
export function envMaxAge(): number {
  const raw = process.env.SEEDCORE_METRICS_MAX_AGE_MS;
  if (raw === undefined || raw.trim() === '') return METRICS_MAX_AGE_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw invalidInput(`SEEDCORE_METRICS_MAX_AGE_MS must be a whole number of milliseconds, 0 or more (got '${raw}')`);
  return n;
}

/**
 * The database as the run-window gauges see it: each distinct read (statement and parameters)
 * is answered from one snapshot for `maxAgeMs`, and concurrent identical reads share one query.
 */
function snapshotReads(db: Db, maxAgeMs: number): Db {
  const reads = new Map<string, () => Promise<unknown>>();
  const query = (sql: string, params?: unknown[]): Promise<unknown> => {
    const key = `${sql}\u0000${JSON.stringify(params ?? [])}`;
    let read = reads.get(key);
    if (!read) reads.set(key, (read = snapshot(maxAgeMs, () => db.query(sql, params))));
    return read();
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'query') return query;
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export interface MetricsOptions {
  /**
   * The run-window gauges (seedcore_agent_*, seedcore_task_runs_recent and the run duration
   * gauges) aggregate task_runs over the last 300 s, seconds of work at 100k runs in the
   * window, and seedcore_tasks_unroutable checks every waiting routed task; scrapes within this
   * many ms reuse one snapshot of them (0: every scrape queries). The counts of tasks by
   * status, attempts and alive instances are queried on every scrape.
   * @defaultValue process.env.SEEDCORE_METRICS_MAX_AGE_MS ?? 5000
   */
  maxAgeMs?: number;
}

export function createMetrics(db: Db, options: MetricsOptions = {}): ServerMetrics {
  const maxAgeMs = options.maxAgeMs ?? envMaxAge();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'seedcore_process_' });
  registerDurableMetrics(registry, maxAgeMs > 0 ? snapshotReads(db, maxAgeMs) : db);
  registerAgentMetrics(registry, db, { maxAgeMs });
  registerRoutingMetrics(registry, db, { maxAgeMs });

  new Gauge({
    name: 'seedcore_tasks',
    help: 'Tasks in the database by status (queried on scrape).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const { counts } = await taskOverview(db);
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'seedcore_task_attempts_started',
    help: 'Sum of tasks.attempts over all tasks: executions started by any worker (queried on scrape; rate() gives claims per second cluster-wide).',
    registers: [registry],
    async collect() {
      const { rows } = await db.query<{ n: string }>('SELECT coalesce(sum(attempts), 0)::text AS n FROM tasks');
      this.set(Number(rows[0]?.n ?? 0));
    },
  });
  new Gauge({
    name: 'seedcore_instances_alive',
    help: 'Registry instances in active_instances (alive, current epoch, fresh heartbeat; queried on scrape).',
    registers: [registry],
    async collect() {
      this.set(await instancesAlive(db));
    },
  });

  return {
    registry,
    httpRequests: new Counter({
      name: 'seedcore_http_requests_total',
      help: 'HTTP requests served, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'seedcore_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    handlerDuration: new Histogram({
      name: 'seedcore_task_handler_duration_seconds',
      help: 'Task handler run time in this process, by task type and outcome.',
      labelNames: ['type', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers: [registry],
    }),
    taskClaims: new Counter({
      name: 'seedcore_task_claims_total',
      help: 'Tasks claimed by the dispatcher in this process.',
      registers: [registry],
    }),
    taskCompletions: new Counter({
      name: 'seedcore_task_completions_total',
      help: 'Task attempts finished by the dispatcher in this process, by type and outcome (completed, retry, failed, lost).',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    leaseRecoveries: new Counter({
      name: 'seedcore_lease_recoveries_total',
      help: 'Running tasks with an expired lease (or a dead owner) recovered by this process.',
      registers: [registry],
    }),
  };
}
