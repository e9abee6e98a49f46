/**
 * The built-in handler set of a worker: each area's own task handlers, merged here, above the
 * areas, so the task area does not depend on the areas whose tasks it runs. An area with task
 * types of its own exports a `(db) => HandlerMap` (`taskHandlers`, `graphHandlers`) and is
 * added below. Run by `seedcore worker`, `seedcore serve` and `SeedCore.createDispatcher`
 * unless they are told otherwise; a caller's handlers of the same type replace these.
 */
import type { Db } from './db/types.js';
import { graphHandlers } from './graph/handlers.js';
import { taskHandlers } from './tasks/builtin.js';
import type { HandlerMap } from './tasks/types.js';

/** noop, echo and sleep (tasks), graph_embed and graph_rag_query (graph), bound to `db`. */
export function builtinHandlers(db: Db): HandlerMap {
  return { ...taskHandlers(db), ...graphHandlers(db) };
}
