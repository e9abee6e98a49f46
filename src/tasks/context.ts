/** The `ctx` a handler receives. */
import { createTaskArtifacts, type TaskArtifacts } from '../agents/artifacts.js';
import { createTaskMemory, type TaskMemory } from '../agents/memory.js';
import type { Db } from '../db/types.js';
import { SeedCoreError } from '../errors.js';
import type { Held } from './dispatcher-options.js';
import { Durable } from './durable/durable.js';
import type { TaskContext, TaskFacts, TaskLogger } from './types.js';

/**
 * A task's abort signal, made on first use. Most handlers never read `ctx.signal`, and an
 * AbortController per task was ~6% of a 100k-task drain's time in this process. An abort (rare:
 * cancel, timeout, shutdown) makes the controller too, so a later read sees it aborted with the
 * first reason (AbortController ignores later aborts).
 */
export class LazyAbort {
  private controller: AbortController | undefined;

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    this.controller ??= new AbortController();
    this.controller.abort(reason);
  }
}

function missingFacts(): TaskFacts {
  const fail = (): Promise<never> =>
    Promise.reject(
      new SeedCoreError(
        'SEEDCORE_UNAVAILABLE',
        'ctx.facts is not available: this dispatcher was created without a taskFacts provider (DispatcherOptions.taskFacts)',
      ),
    );
  return { search: fail, read: fail, produce: fail };
}

export function makeContext(p: {
  db: Db;
  held: Held;
  logger: TaskLogger;
  taskFacts: ((db: Db, taskId: string) => TaskFacts) | undefined;
  heartbeat: () => Promise<void>;
  /** The agent of the worker's organ (DispatcherOptions.organ.agentId): owns memory a task without its own agent writes. */
  organAgentId?: string | undefined;
}): TaskContext {
  const { held } = p;
  let facts: TaskFacts | undefined;
  let logger: TaskLogger | undefined;
  let durable: Durable | undefined;
  let memory: TaskMemory | undefined;
  let artifacts: TaskArtifacts | undefined;
  // Made on first use: most handlers never call a durable method.
  const d = (): Durable => (durable ??= new Durable(p.db, held.task.id, held.owner));
  return {
    get signal(): AbortSignal {
      return held.abort.signal;
    },
    heartbeat: p.heartbeat,
    db: p.db,
    ownerId: held.owner,
    get facts(): TaskFacts {
      facts ??= p.taskFacts ? p.taskFacts(p.db, held.task.id) : missingFacts();
      return facts;
    },
    get memory(): TaskMemory {
      memory ??= createTaskMemory(p.db, held.task.id, p.organAgentId);
      return memory;
    },
    get artifacts(): TaskArtifacts {
      artifacts ??= createTaskArtifacts(p.db, held.task.id);
      return artifacts;
    },
    progress(done: number, total?: number): void {
      held.progress = total === undefined ? { done } : { done, total };
    },
    // Made on first use, like the signal: a logger bound to the task's fields.
    get logger(): TaskLogger {
      if (!logger) {
        const fields = { taskId: held.task.id, type: held.task.type };
        logger = {
          info: (msg, f) => p.logger.info(msg, { ...fields, ...f }),
          warn: (msg, f) => p.logger.warn(msg, { ...fields, ...f }),
          error: (msg, f) => p.logger.error(msg, { ...fields, ...f }),
        };
      }
      return logger;
    },
    step: (name, fn) => d().step(name, fn),
    sleepFor: (seconds) => d().sleepFor(seconds),
    sleepUntil: (date) => d().sleepUntil(date),
    awaitEvent: (name, options) => d().awaitEvent(name, options),
    spawn: (type, params, options) => d().spawn(type, params, options),
    awaitTasks: (ids) => d().awaitTasks(ids),
  };
}
