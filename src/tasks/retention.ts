/**
 * Retention: delete ended tasks older than a given age, in batches, so the tasks table (and
 * its indexes) stays small under steady load.
 *
 * Kept (never pruned): tasks linked in the graph — a graph node (every edge write assigns
 * one, see 007), asked of the graph through graph_linked_task_ids() (migration 030), or a
 * dependency edge in either direction. Those are part of the knowledge graph and its history;
 * delete them through the graph if you must. The planner inlines graph_linked_task_ids(), so
 * the NOT EXISTS is the same anti-join on graph_node_map's key as a direct read of the table.
 *
 * Age is measured from updated_at (when the task ended); created_at < cutoff is also required
 * (always true for an ended task older than the cutoff), which lets the planner use
 * idx_tasks_created_at when few old tasks exist. Each batch is its own short statement: locks
 * are brief and autovacuum can reclaim as it goes.
 *
 * The batch's ids are collected into an array (`id = ANY(ARRAY(…))`) rather than `id IN (…)`:
 * with IN the planner joins the batch back to tasks by a hash semi-join over a sequential scan
 * of the whole table, so every batch cost grew with the table (270k rows: a full scan per
 * batch of 5,000); the array is looked up through the primary key.
 */
import type { Queryable } from '../db/types.js';
import { invalidInput } from '../errors.js';
import type { TaskStatus } from './types.js';

export interface PruneOptions {
  /** Prune tasks that ended more than this many seconds ago. */
  olderThanSeconds: number;
  /** Rows deleted per statement. @defaultValue 5000 */
  batchSize?: number;
  /** Statuses pruned. @defaultValue ['completed'] */
  statuses?: TaskStatus[];
  /** Stop after this many batches (0 = until done). @defaultValue 0 */
  maxBatches?: number;
  /** Called after each batch with the running total. */
  onProgress?(p: { deleted: number; batches: number }): void;
  /**
   * Run `VACUUM tasks` afterwards (when something was deleted), so the space of the deleted
   * and updated row versions is reused at once — for servers where autovacuum is off or lags.
   * Needs a connection outside any transaction (not with a Tx). @defaultValue false
   */
  vacuum?: boolean;
}

const PRUNABLE: TaskStatus[] = ['completed', 'failed', 'cancelled'];

/** Parse `7d`, `12h`, `30m`, `45s` (or a bare number of seconds) into seconds. */
export function parseAge(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?$/i.exec(text.trim());
  if (!m) throw invalidInput(`age '${text}' must look like 7d, 12h, 30m or 45s`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[(m[2] ?? 's').toLowerCase() as 's'];
  return Number(m[1]) * unit;
}

/**
 * One batch of pruneTasks: $1 statuses (text[]), $2 age in seconds, $3 batch size. Exported for
 * the plan test, which checks that the DELETE finds the batch through the primary key.
 */
export const PRUNE_BATCH_SQL = `DELETE FROM tasks WHERE id = ANY(ARRAY(
   SELECT t.id FROM tasks t
    WHERE t.status = ANY($1::text[]::taskstatus[])
      AND t.created_at < now() - make_interval(secs => $2::float8)
      AND t.updated_at < now() - make_interval(secs => $2::float8)
      AND NOT EXISTS (SELECT 1 FROM graph_linked_task_ids() g(id) WHERE g.id = t.id)
      AND NOT EXISTS (SELECT 1 FROM task_depends_on_task e WHERE e.src_task_id = t.id)
      AND NOT EXISTS (SELECT 1 FROM task_depends_on_task e WHERE e.dst_task_id = t.id)
    LIMIT $3
      FOR UPDATE SKIP LOCKED))`;

/** Delete old ended tasks in batches; returns the number deleted. */
export async function pruneTasks(db: Queryable, o: PruneOptions): Promise<{ deleted: number; batches: number }> {
  if (typeof o.olderThanSeconds !== 'number' || !Number.isFinite(o.olderThanSeconds) || o.olderThanSeconds < 0)
    throw invalidInput('olderThanSeconds must be a number ≥ 0');
  const batch = o.batchSize ?? 5000;
  if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) throw invalidInput('batchSize must be an integer between 1 and 100000');
  const statuses = o.statuses ?? ['completed'];
  for (const s of statuses) if (!PRUNABLE.includes(s)) throw invalidInput(`only ended tasks can be pruned (${PRUNABLE.join(', ')}), not '${String(s)}'`);
  let deleted = 0;
  let batches = 0;
  // Statuses go as text[] and are cast in SQL: PGlite does not know the taskstatus[] array
  // type when the enum was created in the same session (first start of a data directory).
  for (;;) {
    const res = await db.query(PRUNE_BATCH_SQL, [statuses, o.olderThanSeconds, batch]);
    batches++;
    deleted += res.rowCount;
    o.onProgress?.({ deleted, batches });
    if (res.rowCount < batch || (o.maxBatches && batches >= o.maxBatches)) break;
  }
  if (o.vacuum && deleted > 0) await db.query('VACUUM tasks');
  return { deleted, batches };
}

/**
 * Delete durable-task events emitted more than `olderThanSeconds` ago (task_events). A task
 * that awaits a pruned event's name afterwards waits for a new emit of it.
 */
export async function pruneTaskEvents(db: Queryable, o: { olderThanSeconds: number }): Promise<{ deleted: number }> {
  if (typeof o.olderThanSeconds !== 'number' || !Number.isFinite(o.olderThanSeconds) || o.olderThanSeconds < 0)
    throw invalidInput('olderThanSeconds must be a number ≥ 0');
  const res = await db.query('DELETE FROM task_events WHERE emitted_at < now() - make_interval(secs => $1::float8)', [o.olderThanSeconds]);
  return { deleted: res.rowCount };
}
