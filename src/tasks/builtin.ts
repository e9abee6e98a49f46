/**
 * The task area's own built-in handlers: noop, echo and sleep. Each area offers its handlers
 * itself (the graph's are `graphHandlers` in src/graph/handlers.ts); the set a worker runs is
 * merged above the areas, by `builtinHandlers` in src/handlers.ts.
 */
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import type { HandlerMap } from './types.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** The task area's built-in handlers. `db` is unused: the signature is the one every area's handler set has. */
export function taskHandlers(_db: Db): HandlerMap {
  return {
    /** Does nothing; for benchmarks and smoke tests. */
    noop: async () => ({ ok: true }),
    /** Returns its params as the result. */
    echo: async (task) => task.params,
    /** Waits params.ms milliseconds (aborts early on cancel/shutdown). */
    sleep: async (task, ctx) => {
      const ms = task.params.ms ?? 1000;
      // setTimeout fires at once above 2^31 - 1 ms; a longer sleep would not sleep at all.
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS)
        throw invalidInput(`sleep: params.ms must be a number between 0 and ${MAX_TIMER_MS}`, {
          path: 'params.ms',
          expected: `0-${MAX_TIMER_MS}`,
          got: String(ms),
        });
      const signal = ctx.signal;
      const reason = () => (signal.reason instanceof Error ? signal.reason : new Error('sleep aborted'));
      // A signal that fired before the handler started never sends 'abort' again.
      if (signal.aborted) throw reason();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(t);
          reject(reason());
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      return { slept: ms };
    },
  };
}
