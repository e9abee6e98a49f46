/** The `ctx` a handler receives. */
import type { Db } from '../db/types.js';
import { SeedCoreError } from '../errors.js';
import type { Held } from './dispatcher-options.js';
import type { TaskContext, TaskFacts, TaskLogger } from './types.js';

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
}): TaskContext {
  const { held } = p;
  const fields = { taskId: held.task.id, type: held.task.type };
  let facts: TaskFacts | undefined;
  return {
    signal: held.controller.signal,
    heartbeat: p.heartbeat,
    db: p.db,
    ownerId: held.owner,
    get facts(): TaskFacts {
      facts ??= p.taskFacts ? p.taskFacts(p.db, held.task.id) : missingFacts();
      return facts;
    },
    progress(done: number, total?: number): void {
      held.progress = total === undefined ? { done } : { done, total };
    },
    logger: {
      info: (msg, f) => p.logger.info(msg, { ...fields, ...f }),
      warn: (msg, f) => p.logger.warn(msg, { ...fields, ...f }),
      error: (msg, f) => p.logger.error(msg, { ...fields, ...f }),
    },
  };
}
