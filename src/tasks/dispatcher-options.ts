/** Dispatcher options, events and the normalisation of options (defaults, validation). */
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import type { BackoffOptions } from './backoff.js';
import type { LazyAbort } from './context.js';
import type { HandlerMap, TaskFacts, TaskLogger, TaskRecord } from './types.js';

export interface DispatcherOptions {
  /** Task type → handler. Only these types are claimed (narrow further with `types`). */
  handlers: HandlerMap;
  /** Claim only these types (each must have a handler). @defaultValue every type in `handlers` */
  types?: string[];
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
  /** Per-type handler timeout in ms; on expiry the signal fires and the attempt fails. */
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
  /** Named queues this worker serves (tasks.queue, migration 013). @defaultValue ['default'] */
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
}

export type DispatcherEvent =
  | { kind: 'claimed'; count: number }
  | { kind: 'started'; task: TaskRecord }
  | { kind: 'completed'; id: string }
  | { kind: 'failed'; id: string; error: string; final: boolean }
  | { kind: 'lost'; id: string; reason: string }
  /** The handler threw TaskSuspended: the task waits in the database; no outcome written. */
  | { kind: 'suspended'; id: string; waitingFor: string }
  | { kind: 'recovered'; ids: string[] }
  | { kind: 'error'; where: string; error: unknown };

/** A task this worker holds a lease on. */
export interface Held {
  task: TaskRecord;
  owner: string;
  state: 'buffered' | 'running' | 'finished';
  /** Fires ctx.signal (cancel, lease loss, timeout, shutdown). */
  abort: LazyAbort;
  timer?: NodeJS.Timeout;
  progress?: { done: number; total?: number };
}

export type ResolvedOptions = Required<
  Pick<DispatcherOptions, 'concurrency' | 'prefetch' | 'leaseSeconds' | 'heartbeatSeconds' | 'maxAttempts' | 'pollIntervalMs'>
>;

/** Validate options (SEEDCORE_INVALID_INPUT) and apply defaults; returns the claimed types too. */
export function resolveOptions(o: DispatcherOptions): { options: ResolvedOptions; types: string[] } {
  if (!o || typeof o.handlers !== 'object' || o.handlers === null) throw invalidInput('dispatcher: handlers (type → async function) are required');
  for (const [t, h] of Object.entries(o.handlers)) if (typeof h !== 'function') throw invalidInput(`dispatcher: handler for '${t}' is not a function`);
  const types = o.types ?? Object.keys(o.handlers);
  for (const t of types) if (!o.handlers[t]) throw invalidInput(`dispatcher: no handler for type '${t}'`);
  const concurrency = o.concurrency ?? 8;
  const num = (name: string, v: number, min: number): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw invalidInput(`dispatcher: ${name} must be a number ≥ ${min}`);
    return v;
  };
  const options: ResolvedOptions = {
    concurrency: num('concurrency', concurrency, 1),
    prefetch: num('prefetch', o.prefetch ?? concurrency, 0),
    leaseSeconds: num('leaseSeconds', o.leaseSeconds ?? 30, 0.1),
    heartbeatSeconds: num('heartbeatSeconds', o.heartbeatSeconds ?? 5, 0.01),
    maxAttempts: num('maxAttempts', o.maxAttempts ?? 3, 1),
    pollIntervalMs: num('pollIntervalMs', o.pollIntervalMs ?? 1000, 5),
  };
  if (options.heartbeatSeconds >= options.leaseSeconds) throw invalidInput('dispatcher: heartbeatSeconds must be shorter than leaseSeconds');
  return { options, types };
}
