/**
 * Read-only routes for the dashboard: counts, the event stream, and read models the task,
 * graph and registry APIs do not offer (activity over time, task lists filtered by queue,
 * priority, agent or organ, a task's graph links, node search by name, in-flight tasks per
 * owner). They only read; every action goes through the ordinary API routes.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { MAX_ORGAN_PAGE, OrganSchema, listOrgans } from '../../agents/organs.js';
import { UNROUTABLE_SQL, UnroutableSchema, withUnroutable } from '../../agents/routing.js';
import { invalidInput } from '../../errors.js';
import { TASK_PRIORITIES } from '../../tasks/types.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';
import { STATUS_EMOJI, instancesAlive, taskOverview } from '../overview.js';
import { NullableString, TaskStatusSchema } from '../schemas.js';

const SeriesQuery = Type.Object({
  minutes: Type.Integer({ minimum: 5, maximum: 1440, default: 60, description: 'Window length.' }),
  buckets: Type.Integer({ minimum: 5, maximum: 240, default: 30 }),
});
const Bucket = Type.Object({
  t: Type.String({ format: 'date-time', description: 'Bucket start.' }),
  created: Type.Integer(),
  completed: Type.Integer(),
  failed: Type.Integer(),
  retried: Type.Integer({ description: 'Tasks now waiting to retry whose last failure fell in the bucket.' }),
  pickup_avg_ms: Type.Union([Type.Number(), Type.Null()]),
  pickup_max_ms: Type.Union([Type.Number(), Type.Null()]),
});

const Priority = Type.Union(TASK_PRIORITIES.map((p) => Type.Literal(p)));
const TaskListQuery = Type.Object({
  status: Type.Optional(Type.Array(TaskStatusSchema)),
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  queue: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  priority: Type.Optional(Priority),
  agent: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  organ: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  idPrefix: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F-]{1,36}$', description: 'Leading characters of the task id.' })),
  waiting: Type.Boolean({ default: false, description: 'Only tasks not yet claimable: waiting for dependencies or for run_after.' }),
  unroutable: Type.Boolean({ default: false, description: 'Only waiting tasks no live organ can serve (their `unroutable` names what is missing).' }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 25 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});
const TaskListItem = Type.Object({
  id: Type.String(),
  status: Type.String(),
  type: Type.String(),
  queue: Type.String(),
  priority: Type.String(),
  attempts: Type.Integer(),
  max_attempts: Type.Union([Type.Integer(), Type.Null()]),
  owner_id: NullableString(),
  run_after: NullableString(),
  agent: NullableString(),
  organ: NullableString(),
  error: NullableString(),
  created_at: Type.String(),
  updated_at: Type.String(),
  unroutable: UnroutableSchema,
});
const TaskIdParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'Full task id.' }),
});
const LinkedTask = Type.Object({ id: Type.String(), type: Type.String(), status: Type.String() });
const TaskLinks = Type.Object({
  node_id: Type.Union([Type.Integer(), Type.Null()], { description: 'The task’s graph node, when it has one.' }),
  dependsOn: Type.Array(LinkedTask),
  dependents: Type.Array(LinkedTask),
  edges: Type.Array(
    Type.Object({ edge_type: Type.String(), node_type: Type.String(), ext_id: Type.String(), node_id: Type.Union([Type.Integer(), Type.Null()]) }),
  ),
  runs: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      outcome: Type.String(),
      owner_id: NullableString(),
      started_at: Type.String(),
      ended_at: Type.String(),
      duration_seconds: Type.Number(),
      error: NullableString(),
    }),
    { description: 'Ended executions, oldest first (empty when the server does not record them).' },
  ),
  steps: Type.Array(Type.Object({ name: Type.String(), attempt: Type.Integer(), created_at: Type.String(), result: Type.Unknown() }), {
    description: 'Completed durable steps (checkpoints), oldest first.',
  }),
  wait: Type.Union(
    [
      Type.Object({
        kind: Type.String(),
        event_name: NullableString(),
        child_ids: Type.Union([Type.Array(Type.String()), Type.Null()]),
        wake_at: NullableString(),
        created_at: Type.String(),
      }),
      Type.Null(),
    ],
    { description: 'What a suspended task waits for.' },
  ),
});
const FindQuery = Type.Object({
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  q: Type.String({ minLength: 1, maxLength: 200, description: 'Node id, or the start of an external id or name.' }),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
});
const FoundNode = Type.Object({ node_id: Type.Integer(), node_type: Type.String(), ext_id: Type.String(), label: NullableString() });

interface ListRow extends Static<typeof TaskListItem> {
  cursor_ts: string;
}

function decodeCursor(cursor: string): [string, string] {
  const [ts, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!ts || !id || Number.isNaN(Date.parse(ts)) || !/^[0-9a-f-]{36}$/i.test(id)) throw invalidInput('cursor is not a cursor returned by this list');
  return [ts, id];
}

/** Whether task_runs exists and holds executions that ended in the window (it can be switched off). */
async function runsRecorded(db: ServerContext['db'], seconds: number): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(`SELECT to_regclass('task_runs') IS NOT NULL AS ok`);
  if (!rows[0]?.ok) return false;
  const recent = await db.query(`SELECT 1 FROM task_runs WHERE ended_at >= now() - make_interval(secs => $1::float8) LIMIT 1`, [seconds]);
  return (recent.rowCount ?? 0) > 0;
}

const likePrefix = (s: string) => `${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function registerOverviewRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/api/overview',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Task counts by status (with the seed status emojis), total, a change version, and the number of live instances.',
        response: {
          200: Type.Object({
            counts: Type.Record(Type.String(), Type.Integer()),
            emojis: Type.Record(Type.String(), Type.String()),
            total: Type.Integer(),
            version: Type.String(),
            instancesAlive: Type.Integer(),
            backend: Type.String(),
            features: Type.Record(Type.String(), Type.Boolean(), { description: 'Library-backed route groups this server exposes.' }),
          }),
        },
      },
    },
    async () => {
      const [overview, alive] = await Promise.all([taskOverview(ctx.db), instancesAlive(ctx.db)]);
      return { ...overview, emojis: STATUS_EMOJI, instancesAlive: alive, backend: ctx.db.kind, features: { ...ctx.features } };
    },
  );

  app.get(
    '/api/events',
    {
      schema: {
        tags: ['dashboard'],
        summary:
          'Server-sent events: an `overview` event (counts, version, instancesAlive) at once, on every new-task notification (LISTEN seedcore_tasks) and on a periodic tick. Accepts ?token= because EventSource cannot send headers.',
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
      },
    },
    async (request, reply) => {
      reply.hijack();
      await ctx.events.attach(reply.raw);
      request.log.debug('event stream attached');
    },
  );

  app.get(
    '/api/overview/series',
    {
      schema: {
        tags: ['dashboard'],
        summary:
          'Activity over a recent window: tasks created, executions completed, failed and sent to retry per bucket, and pickup latency (claim time minus due time) of first attempts claimed in the bucket. From task_runs when it records executions; otherwise from task timestamps, where a task counts once, at its latest change, and only running tasks give a pickup latency.',
        querystring: SeriesQuery,
        response: {
          200: Type.Object({
            bucketSeconds: Type.Number(),
            now: Type.String(),
            source: Type.String({ description: 'runs: ended executions from task_runs; tasks: each task once, at its latest change.' }),
            buckets: Type.Array(Bucket),
          }),
          400: ErrorBody,
        },
      },
    },
    async (request) => {
      const q = request.query as Static<typeof SeriesQuery>;
      const bucketSeconds = (q.minutes * 60) / q.buckets;
      const source = (await runsRecorded(ctx.db, q.minutes * 60)) ? 'runs' : 'tasks';
      // Ended executions: from task_runs when it records them (every run counts, at its end),
      // else from each task's latest state. Running tasks always come from tasks.
      const ends =
        source === 'runs'
          ? `SELECT floor(extract(epoch FROM (r.ended_at - w.start)) / $1)::int AS b, 0 AS created,
                    (r.outcome = 'completed')::int AS completed, (r.outcome = 'failed')::int AS failed, (r.outcome = 'retry')::int AS retried, NULL::float8 AS pickup
               FROM task_runs r, w WHERE r.ended_at >= w.start
             UNION ALL
             SELECT floor(extract(epoch FROM (r.started_at - w.start)) / $1)::int, 0, 0, 0, 0,
                    greatest(0, extract(epoch FROM (r.started_at - greatest(t.created_at, least(coalesce(t.run_after, t.created_at), r.started_at)))) * 1000)
               FROM task_runs r JOIN tasks t ON t.id = r.task_id, w
              WHERE r.started_at >= w.start AND r.attempt = 1 AND (t.attempts <= 1 OR t.run_after IS NULL)`
          : `SELECT floor(extract(epoch FROM (t.updated_at - w.start)) / $1)::int AS b, 0 AS created,
                    (t.status = 'completed')::int AS completed, (t.status = 'failed')::int AS failed, (t.status = 'retry')::int AS retried, NULL::float8 AS pickup
               FROM tasks t, w WHERE t.updated_at >= w.start AND t.status IN ('completed', 'failed', 'retry')`;
      // One statement, so the buckets and the window start share one database clock reading
      // (the client never mixes its own clock in).
      const { rows } = await ctx.db.query<{
        start: string;
        b: number | null;
        created: number;
        completed: number;
        failed: number;
        retried: number;
        pavg: number | null;
        pmax: number | null;
      }>(
        `WITH w AS (SELECT now() - make_interval(secs => $1::float8 * $2::int) AS start),
         ev AS (
           SELECT floor(extract(epoch FROM (t.created_at - w.start)) / $1)::int AS b, 1 AS created, 0 AS completed, 0 AS failed, 0 AS retried, NULL::float8 AS pickup
             FROM tasks t, w WHERE t.created_at >= w.start
           UNION ALL ${ends}
           UNION ALL
           SELECT floor(extract(epoch FROM (t.locked_at - w.start)) / $1)::int, 0, 0, 0, 0,
                  greatest(0, extract(epoch FROM (t.locked_at - greatest(t.created_at, coalesce(t.run_after, t.created_at)))) * 1000)
             FROM tasks t, w WHERE t.status = 'running' AND t.locked_at >= w.start),
         agg AS (
           SELECT b, sum(created)::int AS created, sum(completed)::int AS completed, sum(failed)::int AS failed, sum(retried)::int AS retried,
                  avg(pickup)::float8 AS pavg, max(pickup)::float8 AS pmax
             FROM ev GROUP BY b)
         SELECT to_char(w.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS start, agg.* FROM w LEFT JOIN agg ON true`,
        [bucketSeconds, q.buckets],
      );
      const start = Date.parse(rows[0]?.start ?? new Date(Date.now() - q.minutes * 60_000).toISOString());
      const now = new Date(start + q.minutes * 60_000).toISOString();
      const byIndex = new Map<number, (typeof rows)[number]>();
      for (const r of rows) if (r.b !== null) byIndex.set(Math.min(Number(r.b), q.buckets - 1), r);
      const buckets = Array.from({ length: q.buckets }, (_, i) => {
        const r = byIndex.get(i);
        return {
          t: new Date(start + i * bucketSeconds * 1000).toISOString(),
          created: r?.created ?? 0,
          completed: r?.completed ?? 0,
          failed: r?.failed ?? 0,
          retried: r?.retried ?? 0,
          pickup_avg_ms: r?.pavg ?? null,
          pickup_max_ms: r?.pmax ?? null,
        };
      });
      return { bucketSeconds, now, source, buckets };
    },
  );

  app.get(
    '/api/overview/tasks',
    {
      schema: {
        tags: ['dashboard'],
        summary:
          'Tasks newest first with queue, priority, owning agent, executing organ and whether no live organ can serve them, filtered by any of them, by id prefix, by not-yet-claimable or by unroutable; keyset-paginated (pass nextCursor as cursor).',
        querystring: TaskListQuery,
        response: { 200: Type.Object({ items: Type.Array(TaskListItem), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query as Static<typeof TaskListQuery>;
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: (n: string) => string, v: unknown) => {
        params.push(v);
        where.push(sql(`$${params.length}`));
      };
      if (q.status?.length) add((p) => `t.status::text = ANY(${p}::text[])`, q.status);
      if (q.type) add((p) => `t.type = ${p}`, q.type);
      if (q.queue) add((p) => `t.queue = ${p}`, q.queue);
      if (q.priority) add((p) => `t.priority::text = ${p}`, q.priority);
      if (q.agent) add((p) => `EXISTS (SELECT 1 FROM task_owned_by_agent e WHERE e.task_id = t.id AND e.agent_id = ${p})`, q.agent);
      if (q.organ) add((p) => `EXISTS (SELECT 1 FROM task_executed_by_organ e WHERE e.task_id = t.id AND e.organ_id = ${p})`, q.organ);
      if (q.idPrefix) add((p) => `t.id::text LIKE ${p}`, likePrefix(q.idPrefix.toLowerCase()));
      if (q.waiting) where.push(`(t.status = 'created' OR (t.status IN ('queued', 'retry') AND t.run_after > now()))`);
      // The unroutable report's own condition (src/agents/routing.ts): due, waiting for a claim, routed, and no live organ meets it.
      if (q.unroutable) where.push(UNROUTABLE_SQL);
      if (q.cursor) {
        const [ts, id] = decodeCursor(q.cursor);
        params.push(ts, id);
        where.push(`(t.created_at, t.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
      }
      params.push(q.limit + 1);
      const { rows } = await ctx.db.query<ListRow>(
        `SELECT t.id::text, t.status::text, t.type, t.queue, t.priority::text, t.attempts, t.max_attempts, t.owner_id, t.run_after, t.error,
                (SELECT string_agg(e.agent_id, ', ') FROM task_owned_by_agent e WHERE e.task_id = t.id) AS agent,
                (SELECT string_agg(e.organ_id, ', ') FROM task_executed_by_organ e WHERE e.task_id = t.id) AS organ,
                t.created_at, t.updated_at,
                to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts
           FROM tasks t ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY t.created_at DESC, t.id DESC LIMIT $${params.length}`,
        params,
      );
      const more = rows.length > q.limit;
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return {
        items: await withUnroutable(
          ctx.db,
          page.map(({ cursor_ts: _c, ...r }) => r),
        ),
        nextCursor: more && last ? Buffer.from(`${last.cursor_ts}|${last.id}`).toString('base64url') : null,
      };
    },
  );

  app.get(
    '/api/overview/tasks/:id/links',
    {
      schema: {
        tags: ['dashboard'],
        summary:
          'A task’s dependencies, dependents, graph edges (agents, organs, facts, memory cells, artifacts, capabilities), ended runs, durable steps and what it waits for.',
        params: TaskIdParams,
        response: { 200: TaskLinks, 400: ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof TaskIdParams>;
      const deps = await ctx.db.query<{ dir: string; id: string; type: string; status: string }>(
        `SELECT 'out' AS dir, d.id::text, d.type, d.status::text FROM task_depends_on_task e JOIN tasks d ON d.id = e.dst_task_id WHERE e.src_task_id = $1
         UNION ALL
         SELECT 'in', s.id::text, s.type, s.status::text FROM task_depends_on_task e JOIN tasks s ON s.id = e.src_task_id WHERE e.dst_task_id = $1`,
        [id],
      );
      const edges = await ctx.db.query<{ edge_type: string; node_type: string; ext_id: string; node_id: string | null }>(
        `WITH e(edge_type, node_type, ext_id) AS (
           SELECT 'task__owned_by__agent', 'agent', agent_id FROM task_owned_by_agent WHERE task_id = $1
           UNION ALL SELECT 'task__executed_by__organ', 'organ', organ_id FROM task_executed_by_organ WHERE task_id = $1
           UNION ALL SELECT 'task__reads__fact', 'fact', fact_id::text FROM task_reads_fact WHERE task_id = $1
           UNION ALL SELECT 'task__produces__fact', 'fact', fact_id::text FROM task_produces_fact WHERE task_id = $1
           UNION ALL SELECT 'task__reads__memory', 'memory_cell', memory_cell_id::text FROM task_reads_memory WHERE task_id = $1
           UNION ALL SELECT 'task__writes__memory', 'memory_cell', memory_cell_id::text FROM task_writes_memory WHERE task_id = $1
           UNION ALL SELECT 'task__produces__artifact', 'artifact', artifact_id::text FROM task_produces_artifact WHERE task_id = $1
           UNION ALL SELECT 'task__uses__capability', 'capability', capability_id::text FROM task_uses_capability WHERE task_id = $1)
         SELECT e.edge_type, e.node_type, e.ext_id, m.node_id::text
           FROM e LEFT JOIN graph_node_map m ON m.node_type = e.node_type AND coalesce(m.ext_text_id, m.ext_uuid::text) = e.ext_id
          ORDER BY e.edge_type, e.ext_id`,
        [id],
      );
      const node = await ctx.db.query<{ node_id: string }>(`SELECT node_id::text FROM graph_node_map WHERE node_type = 'task' AND ext_uuid = $1::uuid`, [id]);
      const durable = await ctx.db.query<{ ok: boolean }>(
        `SELECT to_regclass('task_runs') IS NOT NULL AND to_regclass('task_checkpoints') IS NOT NULL AND to_regclass('task_waits') IS NOT NULL AS ok`,
      );
      const [runs, steps, wait] = durable.rows[0]?.ok
        ? await Promise.all([
            ctx.db.query(
              `SELECT attempt, outcome, owner_id, started_at, ended_at, duration_seconds, error FROM task_runs WHERE task_id = $1 ORDER BY ended_at, attempt LIMIT 200`,
              [id],
            ),
            ctx.db.query(`SELECT name, attempt, created_at, result FROM task_checkpoints WHERE task_id = $1 ORDER BY created_at, name LIMIT 200`, [id]),
            ctx.db.query(`SELECT kind, event_name, child_ids::text[] AS child_ids, wake_at, created_at FROM task_waits WHERE task_id = $1`, [id]),
          ])
        : [{ rows: [] }, { rows: [] }, { rows: [] }];
      const linked = (dir: string) => deps.rows.filter((r) => r.dir === dir).map(({ dir: _d, ...r }) => r);
      return {
        node_id: node.rows[0] ? Number(node.rows[0].node_id) : null,
        dependsOn: linked('out'),
        dependents: linked('in'),
        edges: edges.rows.map((r) => ({ ...r, node_id: r.node_id === null ? null : Number(r.node_id) })),
        runs: runs.rows,
        steps: steps.rows,
        wait: wait.rows[0] ?? null,
      };
    },
  );

  app.get(
    '/api/overview/graph/find',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Graph nodes by node id, or whose external id or name (agents: display name) starts with q, optionally of one node type.',
        querystring: FindQuery,
        response: { 200: Type.Object({ items: Type.Array(FoundNode) }), 400: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query as Static<typeof FindQuery>;
      const { rows } = await ctx.db.query<{ node_id: string; node_type: string; ext_id: string; label: string | null }>(
        `SELECT m.node_id::text, m.node_type, coalesce(m.ext_text_id, m.ext_uuid::text) AS ext_id, a.display_name AS label
           FROM graph_node_map m
           LEFT JOIN agent_registry a ON m.node_type = 'agent' AND a.agent_id = m.ext_text_id
          WHERE ($1::text IS NULL OR m.node_type = $1)
            AND (m.node_id::text = $2 OR coalesce(m.ext_text_id, m.ext_uuid::text) ILIKE $3 OR a.display_name ILIKE $3)
          ORDER BY (m.node_id::text = $2) DESC, m.node_type, ext_id LIMIT $4`,
        [q.type ?? null, q.q, likePrefix(q.q), q.limit],
      );
      return { items: rows.map((r) => ({ ...r, node_id: Number(r.node_id) })) };
    },
  );

  app.get(
    '/api/overview/in-flight',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Running tasks per owner (the worker id that claimed them), with the oldest claim time.',
        response: {
          200: Type.Object({ items: Type.Array(Type.Object({ owner: Type.String(), running: Type.Integer(), oldest_locked_at: NullableString() })) }),
        },
      },
    },
    async () => {
      const { rows } = await ctx.db.query(
        `SELECT coalesce(owner_id, locked_by, '?') AS owner, count(*)::int AS running, min(locked_at) AS oldest_locked_at
           FROM tasks WHERE status = 'running' GROUP BY 1 ORDER BY 2 DESC`,
      );
      return { items: rows };
    },
  );

  app.get(
    '/api/overview/organs',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Registered organs (workers of the agent layer): agent, capabilities with versions, skills and the alive registry instances serving each.',
        response: { 200: Type.Object({ items: Type.Array(OrganSchema) }) },
      },
    },
    // The dashboard shows every organ at once (GET /api/organs pages the same items).
    async () => ({ items: (await listOrgans(ctx.db, { limit: MAX_ORGAN_PAGE })).items }),
  );
}
