/**
 * Task handlers for the graph task types, merged into the dispatcher's built-in handler map.
 *   graph_embed       params {start_ids | start_<type>_ids, k} or {all: true}
 *   graph_rag_query   params {start_ids | start_<type>_ids | query, k, topk, expand_hops, node_type}
 */
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import type { HandlerMap, TaskContext, TaskRecord } from '../tasks/types.js';
import { embedAll, embedNeighborhood, resolveStart } from './embed.js';
import { ragQuery } from './rag.js';

async function graphEmbed(db: Db, task: TaskRecord, ctx: TaskContext): Promise<unknown> {
  const p = task.params ?? {};
  if (p.all === true) {
    const r = await embedAll(db, { signal: ctx.signal, onProgress: (done, total) => ctx.progress(done, total) });
    return { ...r, mode: 'all', k: null, start_node_count: 0, embedding_count: r.embedded };
  }
  const start = await resolveStart(db, p);
  const k = p.k ?? 2;
  if (!Number.isInteger(k)) throw invalidInput(`k must be an integer (got ${JSON.stringify(k)})`);
  // A step: when the attempt fails after the embedding (or the worker dies before the
  // completion lands), the retry returns the stored figures instead of embedding again.
  const r = await ctx.step('embed', () => embedNeighborhood(db, start.ids, { k: k as number, signal: ctx.signal }));
  ctx.progress(r.embedded, r.embedding_count);
  return {
    embedded: r.embedded,
    k: r.k,
    start_node_count: r.start_node_count,
    embedding_count: r.embedding_count,
    edge_count: r.edge_count,
    truncated: r.truncated,
    start_debug: { sources: start.sources, node_count: r.node_count },
    node_meta: r.node_meta,
  };
}

/** The graph task handlers, bound to `db` (the worker's database). */
export function graphHandlers(db: Db): HandlerMap {
  return {
    graph_embed: (task, ctx) => graphEmbed(db, task, ctx),
    graph_rag_query: async (task, ctx) => {
      // A step: a retry after the answer was computed (e.g. the fact-edge write below failed)
      // reuses the stored answer instead of running the query again.
      const result = await ctx.step('rag', () => ragQuery(db, task.params ?? {}, ctx.signal));
      // Record the facts the answer used as read by this task (task_reads_fact edges), through
      // ctx.facts, so the graph keeps the memory-action loop.
      if (result.facts.length > 0) await ctx.facts.read(result.facts.map((f) => f.fact_id));
      return result;
    },
  };
}
