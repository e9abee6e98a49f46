/**
 * Per-queue concurrency limits (queue_limits, migration 013) and queue statistics. The limit
 * is enforced by the claim (claim.ts): at most max_running tasks of a queue are running at
 * once across all workers; 0 pauses the queue. Workers re-read which of their queues are
 * limited every `limitsRefreshMs` (until then a newly limited queue is simply not claimed from).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Queryable } from '../db/types.js';
import { notFound } from '../errors.js';
import { assertSchema } from '../schema-check.js';

/** A queue name, as a task's `queue` field takes it (the HTTP path parameter). */
export const QueueNameSchema = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Queue name.' });

/** A queue's running-task limit: what `setQueueLimit`, PUT /api/queues/:queue/limit and `seedcore queues limit` take. */
export const QueueLimitSchema = Type.Object(
  {
    queue: QueueNameSchema,
    max_running: Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000 }), Type.Null()], {
      description: 'Running-task limit across all workers; 0 pauses the queue, null removes the limit.',
    }),
  },
  { additionalProperties: false, description: 'A queue limit.' },
);

/** The body of PUT /api/queues/:queue/limit: QueueLimitSchema without the queue (it is in the path). */
export const QueueLimitBodySchema = Type.Object(
  { max_running: QueueLimitSchema.properties.max_running },
  { additionalProperties: false, description: 'A queue limit (the queue is in the path).' },
);

/** A queue with its counts and limit: listQueues' rows and the HTTP/CLI --json shape. */
export const QueueSchema = Type.Object(
  {
    queue: Type.String(),
    max_running: Type.Unsafe<number | null>({ type: ['integer', 'null'], description: 'Running-task limit; null = unlimited.' }),
    running: Type.Integer(),
    waiting: Type.Integer({ description: 'queued + retry' }),
  },
  { description: 'A queue.' },
);

export type QueueInfo = Static<typeof QueueSchema>;

/** Every queue, as one page: the `{ items, nextCursor }` shape of every list (queues are not paged, so nextCursor is null). */
export interface QueuePage {
  items: QueueInfo[];
  nextCursor: null;
}

/** Set (or with null remove) the running-task limit of a queue. */
export async function setQueueLimit(db: Queryable, queue: string, maxRunning: number | null): Promise<void> {
  assertSchema(QueueLimitSchema, { queue, max_running: maxRunning });
  const name = queue;
  if (maxRunning === null) {
    const res = await db.query('DELETE FROM queue_limits WHERE queue = $1', [name]);
    if (res.rowCount === 0) throw notFound(`queue '${name}' has no limit`);
    return;
  }
  await db.query(
    `INSERT INTO queue_limits (queue, max_running) VALUES ($1, $2)
     ON CONFLICT (queue) DO UPDATE SET max_running = EXCLUDED.max_running, updated_at = now()`,
    [name, maxRunning],
  );
}

/** Every queue that has tasks waiting or running, or a limit: the body of GET /api/queues and `seedcore queues list --json`. */
export async function listQueues(db: Queryable): Promise<QueuePage> {
  const res = await db.query<QueueInfo>(
    `WITH c AS (
       SELECT queue, count(*) FILTER (WHERE status = 'running')::int AS running,
              count(*) FILTER (WHERE status IN ('queued', 'retry'))::int AS waiting
         FROM tasks WHERE status IN ('queued', 'retry', 'running') GROUP BY queue)
     SELECT coalesce(c.queue, l.queue) AS queue, l.max_running, coalesce(c.running, 0) AS running, coalesce(c.waiting, 0) AS waiting
       FROM c FULL JOIN queue_limits l ON l.queue = c.queue
      ORDER BY 1`,
  );
  return { items: res.rows, nextCursor: null };
}

/** One queue's counts and limit (zeros and no limit for a queue nothing uses). */
export async function queueInfo(db: Queryable, queue: string): Promise<QueueInfo> {
  return (await listQueues(db)).items.find((q) => q.queue === queue) ?? { queue, max_running: null, running: 0, waiting: 0 };
}
