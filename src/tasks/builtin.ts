/**
 * Built-in task handlers, run by `seedcore worker` (with or without --handlers).
 * Other areas add their handlers in the marked place below; keep the signature.
 */
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { graphHandlers } from '../graph/handlers.js';
import type { HandlerMap } from './types.js';

export function builtinHandlers(db: Db): HandlerMap {
  void db; // used by the handlers added below (graph, facts)
  return {
    /** Does nothing; for benchmarks and smoke tests. */
    noop: async () => ({ ok: true }),
    /** Returns its params as the result. */
    echo: async (task) => task.params,
    /** Waits params.ms milliseconds (aborts early on cancel/shutdown). */
    sleep: async (task, ctx) => {
      const ms = task.params.ms ?? 1000;
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw invalidInput('sleep: params.ms must be a number ≥ 0');
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted'));
        });
      });
      return { slept: ms };
    },
    // --- other areas: add handlers below this line (e.g. graph_embed, graph_rag_query) ---
    ...graphHandlers(db),
    // --- end of added handlers ---
  };
}
