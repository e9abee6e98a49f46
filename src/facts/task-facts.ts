/**
 * Facts access bound to one task: what a handler searches or reads is recorded in
 * task_reads_fact, what it produces in task_produces_fact. The tables' insert triggers map
 * both endpoints into graph_node_map, so the edges show up in hgnn_edges at once. A produced
 * fact also records its provenance: the task, its agent and organ as sources, and the facts
 * it was derived from as fact__derives_from__fact edges.
 */
import type { Db, Queryable } from '../db/types.js';
import type { FactRef, TaskFacts } from '../tasks/types.js';
import { addFact, getFactsByIds } from './store.js';
import { searchFacts } from './search.js';
import type { Fact } from './types.js';
import { checkUuid } from './validate.js';

function ref(f: Fact): FactRef {
  return { id: f.id, text: f.text, tags: f.tags, meta_data: f.meta_data };
}

async function recordReads(db: Queryable, taskId: string, factIds: string[]): Promise<void> {
  if (factIds.length === 0) return;
  // ON CONFLICT: reading the same fact twice is one edge. A fact deleted between the read
  // and this insert would fail the foreign key, so the join keeps only facts that exist.
  await db.query(
    `INSERT INTO task_reads_fact (task_id, fact_id)
     SELECT $1::uuid, f.id FROM facts f WHERE f.id = ANY($2::uuid[]) ORDER BY f.id
     ON CONFLICT (task_id, fact_id) DO NOTHING`,
    [taskId, factIds],
  );
}

/** The TaskFacts the dispatcher hands to a handler running task `taskId`. */
export function createTaskFacts(db: Db, taskId: string): TaskFacts {
  const task = checkUuid(taskId, 'taskId');
  return {
    async search(query, options = {}) {
      const page = await searchFacts(db, {
        query,
        ...(options.limit !== undefined ? { limit: options.limit } : {}),
        ...(options.tags ? { tags: options.tags } : {}),
      });
      await recordReads(
        db,
        task,
        page.hits.map((h) => h.id),
      );
      return page.hits.map(ref);
    },
    async read(ids) {
      const wanted = ids.map((id) => checkUuid(id, 'fact id'));
      const facts = await getFactsByIds(db, wanted);
      await recordReads(
        db,
        task,
        facts.map((f) => f.id),
      );
      return facts.map(ref);
    },
    async produce(fact) {
      // One transaction: a produced fact never exists without its edge and sources.
      return db.transaction(async (tx) => {
        const who = await tx.query<{ kind: 'agent' | 'organ'; ref: string }>(
          `SELECT 'agent' AS kind, agent_id AS ref FROM task_owned_by_agent WHERE task_id = $1
           UNION ALL SELECT 'organ', organ_id FROM task_executed_by_organ WHERE task_id = $1 ORDER BY 1, 2`,
          [task],
        );
        const f = await addFact(tx, { ...fact, sources: [{ kind: 'task', ref: task }, ...who.rows, ...(fact.sources ?? [])] });
        await tx.query('INSERT INTO task_produces_fact (task_id, fact_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT (task_id, fact_id) DO NOTHING', [task, f.id]);
        return ref(f);
      });
    },
  };
}
