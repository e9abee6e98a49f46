/**
 * Per-queue concurrency limits (queue_limits, migration 013) and queue statistics. The limit
 * is enforced by the claim (claim.ts): at most max_running tasks of a queue are running at
 * once across all workers; 0 pauses the queue. Workers re-read which of their queues are
 * limited every `limitsRefreshMs` (until then a newly limited queue is simply not claimed from).
 */
import type { Queryable } from '../db/types.js';
import { invalidInput, notFound } from '../errors.js';

export interface QueueInfo {
  queue: string;
  /** null = unlimited. */
  max_running: number | null;
  running: number;
  /** queued + retry. */
  waiting: number;
}

function queueName(q: unknown): string {
  if (typeof q !== 'string' || q.length < 1 || q.length > 200) throw invalidInput('queue name must be 1–200 characters', { field: 'queue' });
  return q;
}

/** Set (or with null remove) the running-task limit of a queue. */
export async function setQueueLimit(db: Queryable, queue: string, maxRunning: number | null): Promise<void> {
  const name = queueName(queue);
  if (maxRunning === null) {
    const res = await db.query('DELETE FROM queue_limits WHERE queue = $1', [name]);
    if (res.rowCount === 0) throw notFound(`queue '${name}' has no limit`);
    return;
  }
  if (!Number.isInteger(maxRunning) || maxRunning < 0 || maxRunning > 1_000_000) throw invalidInput('max_running must be an integer ≥ 0 (0 pauses the queue)');
  await db.query(
    `INSERT INTO queue_limits (queue, max_running) VALUES ($1, $2)
     ON CONFLICT (queue) DO UPDATE SET max_running = EXCLUDED.max_running, updated_at = now()`,
    [name, maxRunning],
  );
}

/** Every queue that has tasks waiting or running, or a limit. */
export async function listQueues(db: Queryable): Promise<QueueInfo[]> {
  const res = await db.query<QueueInfo>(
    `WITH c AS (
       SELECT queue, count(*) FILTER (WHERE status = 'running')::int AS running,
              count(*) FILTER (WHERE status IN ('queued', 'retry'))::int AS waiting
         FROM tasks WHERE status IN ('queued', 'retry', 'running') GROUP BY queue)
     SELECT coalesce(c.queue, l.queue) AS queue, l.max_running, coalesce(c.running, 0) AS running, coalesce(c.waiting, 0) AS waiting
       FROM c FULL JOIN queue_limits l ON l.queue = c.queue
      ORDER BY 1`,
  );
  return res.rows;
}
