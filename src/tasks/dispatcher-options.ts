/** Dispatcher options, events and the normalisation of options (defaults from defaults.ts, validation). */
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import type { BackoffOptions } from './backoff.js';
import type { LazyAbort } from './context.js';
import { DEFAULTS } from './defaults.js';
import { checkTiming, heartbeatSecondsFor, type MembershipClock } from './timing.js';
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
  /**
   * Lease length; a running task not renewed for this long is recovered. The worker itself
   * gives a task up (ctx.signal fires, reason `lease unrenewable`) a margin before that when it
   * cannot renew (timing.ts). @defaultValue 30
   */
  leaseSeconds?: number;
  /**
   * Lease renewal interval (also how soon a cancel reaches a running handler without
   * notifications). Must be shorter than leaseSeconds minus the self-fence margin (timing.ts).
   * @defaultValue a third of leaseSeconds, at most 5
   */
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
  /**
   * How often the maintenance pass (recovery, expiry, healing) runs; one process in the
   * cluster does each pass. @defaultValue leaseSeconds·500 ms, within 100..5000
   */
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
  /**
   * Registry membership (attachRegistry sets it): claims then require this instance to be alive
   * in the current epoch, in the claim statement itself, and the self-fence deadline also
   * follows the registry heartbeat. Without it (a library dispatcher with its own owner id)
   * leases alone fence the worker.
   */
  membership?: MembershipClock;
  /**
   * Serve as an organ of the agent layer: claims then take only tasks this organ can serve
   * (every required capability provided at a satisfying version, or bound to this organ).
   * Without it the worker takes only tasks that require nothing and are bound to no organ.
   */
  organ?: OrganOptions;
}

/** A worker that is an organ: its id (organ_registry.organ_id) and what it provides. */
export interface OrganOptions {
  /** organ_registry.organ_id; also the registry logical id of the worker's instance. */
  id: string;
  /** The agent the organ belongs to (agent_registry.agent_id). */
  agentId?: string;
  /** Capabilities provided, each with a dotted-number version ('2', '1.4.0'). */
  capabilities?: { name: string; version: string }[];
  /** Skills provided (organ__provides__skill). */
  skills?: string[];
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
  /** The worker could not renew in time and gave these tasks up before anyone could take them over. */
  | { kind: 'fenced'; ids: string[]; reason: string }
  | { kind: 'error'; where: string; error: unknown };

/** A task this worker holds a lease on. */
export interface Held {
  task: TaskRecord;
  owner: string;
  state: 'buffered' | 'running' | 'finished';
  /** Fires ctx.signal (cancel, lease loss, timeout, shutdown). */
  abort: LazyAbort;
  timer?: NodeJS.Timeout;
  /** performance.now() when the last claim or renewal of this task that landed was sent (the self-fence clock). */
  leaseSentAt: number;
  /**
   * Set by a durable handler's context just before it suspends the task in the database (and
   * then throws TaskSuspended): the lease keeper stops renewing it and does not report it lost
   * when the row is no longer running under this owner.
   */
  suspending?: boolean;
  progress?: { done: number; total?: number };
}

export interface ResolvedOptions {
  concurrency: number;
  prefetch: number;
  leaseSeconds: number;
  heartbeatSeconds: number;
  maxAttempts: number;
  pollIntervalMs: number;
  recoveryIntervalMs: number;
  limitsRefreshMs: number;
  scheduleIntervalMs: number;
  agingSeconds: number;
  resultMaxBytes: number;
  queues: string[];
  /** The organ this worker serves as (the claim routes by it); null: a worker that is no organ. */
  organ: OrganOptions | null;
}

/**
 * Validate options (SEEDCORE_INVALID_INPUT) and apply defaults; returns the claimed types too.
 * Pure: callers validate before they register or write anything.
 */
export function resolveOptions(o: DispatcherOptions): { options: ResolvedOptions; types: string[] } {
  if (!o || typeof o.handlers !== 'object' || o.handlers === null) throw invalidInput('dispatcher: handlers (type → async function) are required');
  for (const [t, h] of Object.entries(o.handlers)) if (typeof h !== 'function') throw invalidInput(`dispatcher: handler for '${t}' is not a function`);
  const types = o.types ?? Object.keys(o.handlers);
  for (const t of types) if (!o.handlers[t]) throw invalidInput(`dispatcher: no handler for type '${t}'`);
  const num = (name: string, v: number, min: number): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw invalidInput(`dispatcher: ${name} must be a number ≥ ${min}`, { field: name });
    return v;
  };
  const queues = o.queues ?? [...DEFAULTS.queues];
  if (!Array.isArray(queues) || queues.length === 0 || queues.some((q) => typeof q !== 'string' || q.length < 1 || q.length > 200))
    throw invalidInput('dispatcher: queues must be a non-empty array of queue names (1–200 characters)', { field: 'queues' });
  const concurrency = num('concurrency', o.concurrency ?? DEFAULTS.concurrency, 1);
  const leaseSeconds = num('leaseSeconds', o.leaseSeconds ?? DEFAULTS.leaseSeconds, 0.1);
  const heartbeatSeconds = num('heartbeatSeconds', o.heartbeatSeconds ?? heartbeatSecondsFor(leaseSeconds), 0.01);
  checkTiming(leaseSeconds, heartbeatSeconds);
  const recoveryDefault = Math.max(
    DEFAULTS.recoveryMinIntervalMs,
    Math.min(DEFAULTS.recoveryMaxIntervalMs, leaseSeconds * 1000 * DEFAULTS.recoveryLeaseFraction),
  );
  const options: ResolvedOptions = {
    concurrency,
    prefetch: num('prefetch', o.prefetch ?? concurrency * DEFAULTS.prefetchPerSlot, 0),
    leaseSeconds,
    heartbeatSeconds,
    maxAttempts: num('maxAttempts', o.maxAttempts ?? DEFAULTS.maxAttempts, 1),
    pollIntervalMs: num('pollIntervalMs', o.pollIntervalMs ?? DEFAULTS.pollIntervalMs, 5),
    recoveryIntervalMs: num('recoveryIntervalMs', o.recoveryIntervalMs ?? recoveryDefault, 10),
    limitsRefreshMs: num('limitsRefreshMs', o.limitsRefreshMs ?? DEFAULTS.limitsRefreshMs, 10),
    scheduleIntervalMs: num('scheduleIntervalMs', o.scheduleIntervalMs ?? DEFAULTS.scheduleIntervalMs, 10),
    agingSeconds: num('agingSeconds', o.agingSeconds ?? DEFAULTS.agingSeconds, 0),
    resultMaxBytes: num('resultMaxBytes', o.resultMaxBytes ?? DEFAULTS.resultMaxBytes, 0),
    queues,
    organ: checkOrganForClaim(o.organ),
  };
  return { options, types };
}

/**
 * What the claim needs of an organ option: an id and capabilities with dotted-number
 * versions (the registration in src/agents/organs.ts checks the whole option).
 */
function checkOrganForClaim(organ: OrganOptions | undefined): OrganOptions | null {
  if (organ === undefined) return null;
  if (typeof organ !== 'object' || organ === null || typeof organ.id !== 'string' || organ.id.trim() === '')
    throw invalidInput('dispatcher: organ.id must be a non-empty text', { field: 'organ.id' });
  const caps = organ.capabilities ?? [];
  if (!Array.isArray(caps)) throw invalidInput('dispatcher: organ.capabilities must be an array of { name, version }', { field: 'organ.capabilities' });
  caps.forEach((c, i) => {
    if (
      typeof c?.name !== 'string' ||
      !/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$/.test(c.name) ||
      typeof c.version !== 'string' ||
      !/^[0-9]{1,9}(\.[0-9]{1,9}){0,7}$/.test(c.version)
    )
      throw invalidInput(`dispatcher: organ.capabilities[${i}] must be { name, version } with a dotted-number version (e.g. summarize, 2)`, {
        field: `organ.capabilities[${i}]`,
      });
  });
  return organ;
}
