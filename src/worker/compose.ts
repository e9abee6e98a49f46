/**
 * The one composition of a worker, used by `seedcore worker`, `seedcore serve` (its embedded
 * worker) and the library facade (SeedCore.createDispatcher): a Dispatcher plus, when asked,
 * the built-in handlers, the facts provider for ctx.facts, registry membership (claims as its
 * registry instance, paused while fenced) and the organ it serves.
 *
 * Everything is validated when the worker is built (SEEDCORE_INVALID_INPUT, nothing written);
 * start() then, in this order: joins the registry (logical id = the organ id for an organ),
 * registers the organ and its offer, and starts the dispatcher under the instance id. stop()
 * drains the dispatcher, then leaves the registry (draining → dead).
 */
import { registerOrgan, validateOrgan, type OrganSpec } from '../agents/organs.js';
import type { Db } from '../db/types.js';
import { invalidInput, SeedCoreError } from '../errors.js';
import { createTaskFacts } from '../facts/index.js';
import type { ReconcilerOptions } from '../registry/reconciler.js';
import { attachRegistry, joinAsWorker, type WorkerMembership } from '../registry/worker-membership.js';
import { builtinHandlers } from '../handlers.js';
import { Dispatcher, type DispatcherOptions } from '../tasks/dispatcher.js';

/** How a worker joins the runtime registry. */
export interface WorkerRegistryOptions {
  /** Registry logical id; an organ registers under its organ id. @defaultValue 'dispatcher' */
  logicalId?: string;
  /** registry_instance.actor_name. @defaultValue 'worker' */
  actorName?: string;
  /** registry_instance.serve_route (serve's URL). */
  serveRoute?: string;
  reconciler?: ReconcilerOptions;
}

export interface WorkerOptions extends DispatcherOptions {
  /**
   * Join the runtime registry on start and claim as the registry instance (tasks of a dead
   * or silent instance are then recovered at once; a fenced instance stops claiming).
   * Required for an organ (a provider is live while its instance is). Not combinable with
   * an explicit ownerId. @defaultValue true with `organ`, else false
   */
  registry?: boolean | WorkerRegistryOptions;
  /** Add the built-in handlers (echo, sleep, graph tasks, …) under the given ones. @defaultValue false */
  builtins?: boolean;
}

/** The registry part of a worker's options after validation, or null without one. */
function registryPlan(o: WorkerOptions): { logicalId: string; actorName: string; serveRoute?: string; reconciler?: ReconcilerOptions } | null {
  const wanted = o.registry ?? o.organ !== undefined;
  if (wanted === false) {
    if (o.organ !== undefined) throw invalidInput('organ: an organ worker must join the registry (registry: false was given)', { field: 'registry' });
    return null;
  }
  if (o.ownerId !== undefined)
    throw invalidInput('ownerId: a registered worker claims as its registry instance; leave ownerId out or set registry: false', { field: 'ownerId' });
  const r = typeof wanted === 'object' ? wanted : {};
  const organId = o.organ?.id;
  if (organId !== undefined && r.logicalId !== undefined && r.logicalId !== organId)
    throw invalidInput(`registry.logicalId: an organ registers under its organ id '${organId}', got '${r.logicalId}'`, { field: 'registry.logicalId' });
  return {
    logicalId: organId ?? r.logicalId ?? 'dispatcher',
    actorName: r.actorName ?? 'worker',
    ...(r.serveRoute !== undefined ? { serveRoute: r.serveRoute } : {}),
    ...(r.reconciler !== undefined ? { reconciler: r.reconciler } : {}),
  };
}

/**
 * A composed worker. It is a Dispatcher (same start/stop/status), so every place that takes
 * a Dispatcher takes a Worker; before start() its ownerId is provisional when it registers.
 */
export class Worker extends Dispatcher {
  /** The organ this worker serves, validated; null for a plain worker. */
  readonly organ: OrganSpec | null;
  private readonly plan: ReturnType<typeof registryPlan>;
  private readonly taskLogger: WorkerOptions['logger'];
  private membershipHandle: WorkerMembership | undefined;
  private detach: (() => void) | undefined;

  constructor(db: Db, options: WorkerOptions) {
    const organ = options.organ === undefined ? null : validateOrgan(options.organ);
    const plan = registryPlan(options);
    const { registry: _registry, builtins, ...dispatcherOptions } = options;
    super(db, {
      // Facts access for handlers (ctx.facts): the task<->fact edges are written for them.
      taskFacts: createTaskFacts,
      ...dispatcherOptions,
      handlers: builtins ? { ...builtinHandlers(db), ...options.handlers } : options.handlers,
    });
    this.organ = organ;
    this.plan = plan;
    this.taskLogger = options.logger;
  }

  /** The registry instance this worker claims as (after start()), or undefined without registry. */
  get instanceId(): string | undefined {
    return this.membershipHandle ? this.ownerId : undefined;
  }

  /** The registry membership after start() (its client emits registered/fenced/closed). */
  get registryMembership(): WorkerMembership | undefined {
    return this.membershipHandle;
  }

  override async start(): Promise<void> {
    const plan = this.plan;
    if (plan === null) return super.start();
    if (this.membershipHandle) throw new SeedCoreError('SEEDCORE_CONFLICT', 'worker already started');
    const logger = this.taskLogger;
    const m = await joinAsWorker(this.db, { ...plan, ...(logger ? { logger } : {}) });
    try {
      if (this.organ) await registerOrgan(this.db, this.organ);
      // Not started yet: this only sets the owner id new claims are made under.
      this.resumeClaiming(m.instanceId);
      this.detach = attachRegistry(this, m.client);
      this.membershipHandle = m;
      await super.start();
    } catch (e) {
      this.detach?.();
      this.detach = undefined;
      this.membershipHandle = undefined;
      await m.stop().catch(() => undefined);
      throw e;
    }
  }

  override async stop(options: { graceMs?: number } = {}): Promise<void> {
    try {
      await super.stop(options);
    } finally {
      this.detach?.();
      this.detach = undefined;
      await this.membershipHandle?.stop();
    }
  }
}

/** Build a worker (validated, nothing written yet); call start(). */
export function createWorker(db: Db, options: WorkerOptions): Worker {
  return new Worker(db, options);
}
