/**
 * The durable methods of a context that has no task row behind it (a handler called directly,
 * e.g. from a test or a script): steps simply run; suspending is not possible, nor are memory
 * and artifacts (their edges need the task row).
 */
import { unavailableTaskArtifacts } from '../../agents/artifacts.js';
import { unavailableTaskMemory } from '../../agents/memory.js';
import { SeedCoreError } from '../../errors.js';
import type { TaskContext } from '../types.js';

type DurableMethods = Pick<TaskContext, 'step' | 'sleepFor' | 'sleepUntil' | 'awaitEvent' | 'spawn' | 'awaitTasks' | 'memory' | 'artifacts'>;

export function inMemoryDurable(): DurableMethods {
  const no = (what: string): Promise<never> =>
    Promise.reject(new SeedCoreError('SEEDCORE_UNAVAILABLE', `ctx.${what} needs a task claimed by a dispatcher (this context has no task row)`));
  return {
    step: async (_name, fn) => fn(),
    sleepFor: () => no('sleepFor'),
    sleepUntil: () => no('sleepUntil'),
    awaitEvent: () => no('awaitEvent'),
    spawn: () => no('spawn'),
    awaitTasks: () => no('awaitTasks'),
    memory: unavailableTaskMemory(),
    artifacts: unavailableTaskArtifacts(),
  };
}
