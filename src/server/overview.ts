/**
 * Read-only presentation queries shared by the dashboard, the event stream and the metrics:
 * task counts by status, and a cheap "has anything changed" version.
 */
import type { Queryable } from '../db/types.js';
import { TASK_STATUSES, type TaskStatus } from '../tasks/types.js';

/** The original SeedCore's status emojis (the graph_tasks view uses the same mapping). */
export const STATUS_EMOJI: Record<TaskStatus, string> = {
  completed: '✅',
  running: '🔄',
  queued: '⏳',
  failed: '❌',
  retry: '🔄',
  created: '📝',
  cancelled: '❌',
};

export interface TaskOverview {
  counts: Record<TaskStatus, number>;
  total: number;
  /** Changes whenever a task is inserted, updated or deleted (count + latest updated_at). */
  version: string;
}

export async function taskOverview(db: Queryable): Promise<TaskOverview> {
  const { rows } = await db.query<{ status: TaskStatus; n: number; last: string | null }>(
    `SELECT status::text AS status, count(*)::int AS n, max(updated_at)::text AS last FROM tasks GROUP BY status`,
  );
  const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  let total = 0;
  const parts: string[] = [];
  for (const r of rows) {
    counts[r.status] = r.n;
    total += r.n;
    parts.push(`${r.status}:${r.n}:${r.last ?? ''}`);
  }
  return { counts, total, version: parts.sort().join('|') };
}

export async function instancesAlive(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM active_instances');
  return rows[0]?.n ?? 0;
}
