/**
 * Agent performance: per organ, agent and capability, the executions that ended in a window —
 * how many completed, failed for good, or failed and were retried, the failure rate and the
 * p50/p95 duration.
 *
 * Source: the run history (task_runs, one row per ended execution with its start and end) when
 * it holds runs in the window; else the tasks table (finished tasks updated in the window),
 * which keeps no start time once a task ends, so durations are then submit-to-end times
 * (updated_at − created_at) and each task counts once.
 *
 * Who ran an execution:
 * - organ: the logical id of the registry instance that ran it (task_runs.owner_id), when that
 *   id is a registered organ (organ workers register under their organ id); else the task's
 *   task_executed_by_organ edge; else none;
 * - agent: the task's task_owned_by_agent edges; else the agent of its organ (organ_registry);
 * - capability: the task's task_uses_capability edges (an execution counts for each).
 * Executions with no organ, agent or capability are counted under key null.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Gauge, type Registry } from 'prom-client';
import type { Db, Queryable } from '../db/types.js';
import { fromDbError, invalidInput } from '../errors.js';
import { parseAge } from '../tasks/retention.js';

export const STAT_DIMENSIONS = ['organ', 'agent', 'capability'] as const;
export type StatDimension = (typeof STAT_DIMENSIONS)[number];
/** Most keys per dimension in an answer (the rest are folded into one `other` row). */
export const MAX_STAT_KEYS = 1000;
const MAX_WINDOW_SECONDS = 366 * 86_400;

const nullableNumber = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });

export const AgentStatSchema = Type.Object({
  dimension: Type.Union(
    STAT_DIMENSIONS.map((d) => Type.Literal(d)),
    { description: 'What the row is about: an organ, an agent or a capability.' },
  ),
  key: Type.Union([Type.String(), Type.Null()], {
    description: 'The organ, agent or capability; null for executions with none (or for the folded `other` row).',
  }),
  other: Type.Boolean({ description: 'True for the one row that folds the keys beyond `keys` (the least busy ones).' }),
  runs: Type.Integer({ description: 'Executions that ended completed, failed or retry in the window.' }),
  completed: Type.Integer({ description: 'Executions that completed (tasks done).' }),
  failed: Type.Integer({ description: 'Executions that failed for good (no attempt left, or a permanent failure).' }),
  retried: Type.Integer({ description: 'Executions that failed and were scheduled again.' }),
  failureRate: nullableNumber('(failed + retried) / runs.'),
  p50Seconds: nullableNumber('Median execution duration.'),
  p95Seconds: nullableNumber('95th percentile of the execution duration.'),
});
export type AgentStat = Static<typeof AgentStatSchema>;

export const AgentStatsSchema = Type.Object({
  windowSeconds: Type.Number(),
  source: Type.Union([Type.Literal('task_runs'), Type.Literal('tasks')], {
    description: 'task_runs: the run history; tasks: the tasks table (durations are submit-to-end times).',
  }),
  items: Type.Array(AgentStatSchema),
  nextCursor: Type.Null(),
});
export type AgentStats = Static<typeof AgentStatsSchema>;

export interface AgentStatsOptions {
  /** The window, in seconds or as text ('1h', '30m', '7d'). @defaultValue 3600 */
  window?: number | string;
  /** Keep only these dimensions. @defaultValue all three */
  dimensions?: readonly StatDimension[];
  /** Most keys per dimension, busiest first; the rest become one `other` row. @defaultValue 100 */
  keys?: number;
  /** Where to read from; 'auto' prefers the run history. @defaultValue 'auto' */
  source?: 'auto' | 'task_runs' | 'tasks';
}

export function windowSeconds(window: number | string | undefined): number {
  if (window === undefined) return 3600;
  let s: number;
  if (typeof window === 'string') {
    try {
      s = parseAge(window);
    } catch {
      s = Number.NaN;
    }
  } else s = window;
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0 || s > MAX_WINDOW_SECONDS)
    throw invalidInput(`window: expected a duration such as 90s, 30m, 1h or 7d, up to 366d, got ${JSON.stringify(window)}`, {
      path: 'window',
      expected: 'a duration such as 90s, 30m, 1h or 7d (at most 366d)',
      got: String(window),
    });
  return s;
}

/** Executions in the window: (task_id, outcome, duration_seconds, owner_id). */
const RUNS_FROM_HISTORY = `SELECT r.task_id, r.outcome, r.duration_seconds, r.owner_id
    FROM task_runs r
   WHERE r.ended_at > now() - make_interval(secs => $1) AND r.outcome IN ('completed', 'failed', 'retry')`;
const RUNS_FROM_TASKS = `SELECT t.id AS task_id, t.status::text AS outcome,
         extract(epoch FROM t.updated_at - t.created_at)::float8 AS duration_seconds, NULL::text AS owner_id
    FROM tasks t
   WHERE t.updated_at > now() - make_interval(secs => $1) AND t.status IN ('completed', 'failed', 'retry')`;

function statsSql(runs: string): string {
  return `WITH r AS (${runs}),
  -- The few distinct owners, matched to instances as text (no per-run uuid check or cast);
  -- materialized, so the join to the runs never re-runs it per run.
  owner_organ AS MATERIALIZED (
    SELECT o.owner_id, ri.logical_id AS organ_id
      FROM (SELECT DISTINCT owner_id FROM r WHERE owner_id IS NOT NULL) o
      JOIN registry_instance ri ON ri.instance_id::text = o.owner_id
      JOIN organ_registry og ON og.organ_id = ri.logical_id
  ),
  ro AS (
    SELECT r.task_id, r.outcome, r.duration_seconds,
           coalesce(oo.organ_id, (SELECT min(e.organ_id) FROM task_executed_by_organ e WHERE e.task_id = r.task_id)) AS organ_id
      FROM r LEFT JOIN owner_organ oo ON oo.owner_id = r.owner_id
  ),
  keyed AS (
    SELECT 'organ'::text AS dimension, ro.organ_id AS key, ro.outcome, ro.duration_seconds FROM ro
     WHERE 'organ' = ANY($2::text[])
    UNION ALL
    SELECT 'agent', a.agent_id, ro.outcome, ro.duration_seconds FROM ro
      LEFT JOIN LATERAL (
        SELECT e.agent_id FROM task_owned_by_agent e WHERE e.task_id = ro.task_id
        UNION ALL
        SELECT og.agent_id FROM organ_registry og
         WHERE og.organ_id = ro.organ_id AND og.agent_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM task_owned_by_agent e2 WHERE e2.task_id = ro.task_id)
      ) a ON true
     WHERE 'agent' = ANY($2::text[])
    UNION ALL
    SELECT 'capability', c.name, ro.outcome, ro.duration_seconds FROM ro
      LEFT JOIN LATERAL (
        SELECT cap.name FROM task_uses_capability u JOIN capability cap ON cap.capability_id = u.capability_id WHERE u.task_id = ro.task_id
      ) c ON true
     WHERE 'capability' = ANY($2::text[])
  ),
  -- Rank the keys without a join: a key's rank among its dimension's keys (busiest first) is
  -- the dense rank of its rows ordered by (the key's runs, key). The keys beyond $3 share one
  -- group per dimension, so one aggregation gives the kept keys and the folded row, whatever
  -- the planner estimates for the window (it often guesses a handful of rows).
  ranked AS (
    SELECT c.*, dense_rank() OVER (PARTITION BY dimension ORDER BY key_runs DESC, key NULLS LAST) AS rn
      FROM (SELECT k.*, count(*) OVER (PARTITION BY dimension, key) AS key_runs FROM keyed k) c
  )
  SELECT dimension, CASE WHEN least(rn, $3 + 1) <= $3 THEN max(key) END AS key, least(rn, $3 + 1) > $3 AS other,
         count(*)::int AS runs,
         count(*) FILTER (WHERE outcome = 'completed')::int AS completed,
         count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
         count(*) FILTER (WHERE outcome = 'retry')::int AS retried,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds)::float8 AS p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds)::float8 AS p95
    FROM ranked
   GROUP BY dimension, least(rn, $3 + 1)
   ORDER BY 1, 3, 4 DESC, 2 NULLS LAST`;
}

interface StatRow {
  dimension: StatDimension;
  key: string | null;
  other: boolean;
  runs: number;
  completed: number;
  failed: number;
  retried: number;
  p50: number | null;
  p95: number | null;
}

const round = (x: number | null): number | null => (x === null ? null : Math.round(x * 1e6) / 1e6);

/** Agent performance over a window (see the module comment for what is counted and how). */
export async function agentStats(db: Db | Queryable, options: AgentStatsOptions = {}): Promise<AgentStats> {
  const seconds = windowSeconds(options.window);
  const dimensions = options.dimensions ?? STAT_DIMENSIONS;
  for (const d of dimensions)
    if (!STAT_DIMENSIONS.includes(d))
      throw invalidInput(`dimensions: expected organ, agent or capability, got ${JSON.stringify(d)}`, {
        path: 'dimensions',
        expected: STAT_DIMENSIONS.join(', '),
        got: String(d),
      });
  const keys = options.keys ?? 100;
  if (!Number.isInteger(keys) || keys < 1 || keys > MAX_STAT_KEYS)
    throw invalidInput(`keys: expected an integer between 1 and ${MAX_STAT_KEYS}, got ${JSON.stringify(keys)}`, {
      path: 'keys',
      expected: `1..${MAX_STAT_KEYS}`,
      got: String(keys),
    });
  const wanted = options.source ?? 'auto';
  if (!['auto', 'task_runs', 'tasks'].includes(wanted))
    throw invalidInput(`source: expected auto, task_runs or tasks, got ${JSON.stringify(wanted)}`, {
      path: 'source',
      expected: 'auto, task_runs or tasks',
      got: String(wanted),
    });
  const run = async (q: Queryable): Promise<AgentStats> => {
    let source: 'task_runs' | 'tasks' = wanted === 'tasks' ? 'tasks' : 'task_runs';
    if (wanted === 'auto') {
      // The BRIN index on ended_at answers "any run in the window" cheaply.
      const { rows } = await q.query<{ has: boolean }>(
        `SELECT to_regclass('task_runs') IS NOT NULL
            AND EXISTS (SELECT 1 FROM task_runs WHERE ended_at > now() - make_interval(secs => $1)) AS has`,
        [seconds],
      );
      source = rows[0]?.has ? 'task_runs' : 'tasks';
    }
    const { rows } = await q.query<StatRow>(statsSql(source === 'task_runs' ? RUNS_FROM_HISTORY : RUNS_FROM_TASKS), [seconds, [...dimensions], keys]);
    return {
      windowSeconds: seconds,
      source,
      items: rows.map((r) => ({
        dimension: r.dimension,
        key: r.key,
        other: r.other,
        runs: r.runs,
        completed: r.completed,
        failed: r.failed,
        retried: r.retried,
        failureRate: r.runs > 0 ? round((r.failed + r.retried) / r.runs) : null,
        p50Seconds: round(r.p50),
        p95Seconds: round(r.p95),
      })),
      nextCursor: null,
    };
  };
  try {
    // The statement's estimated cost is high enough for the server to JIT-compile it, which
    // took longer than running it (seconds at 100k executions); in its own transaction JIT is
    // switched off for it alone.
    if (isDb(db))
      return await db.transaction(async (tx) => {
        await tx.query('SET LOCAL jit = off');
        return run(tx);
      });
    return await run(db);
  } catch (e) {
    throw fromDbError(e, 'agent stats');
  }
}

function isDb(q: Queryable | Db): q is Db {
  return typeof (q as Partial<Db>).transaction === 'function';
}

/** Window of the Prometheus gauges, in seconds (the same as the run gauges of durable tasks). */
export const AGENT_METRICS_WINDOW_SECONDS = 300;
/**
 * Label cardinality cap: at most this many keys per dimension get their own series (the
 * busiest in the window); the rest are summed into key="_other", executions with no organ,
 * agent or capability are key="_none". So at most 3 × (20 + 2) keys, each with 6 series.
 */
export const AGENT_METRICS_MAX_KEYS = 20;

/**
 * A value computed at most once per `maxAgeMs`: callers within that age get the same answer,
 * concurrent callers share one computation, and a failed computation is not kept. 0: every
 * call computes (concurrent calls still share one).
 */
export function snapshot<T>(maxAgeMs: number, compute: () => Promise<T>): () => Promise<T> {
  let inflight: Promise<T> | undefined;
  let last: { at: number; value: T } | undefined;
  return () => {
    if (last && performance.now() - last.at < maxAgeMs) return Promise.resolve(last.value);
    inflight ??= compute()
      .then((value) => {
        last = { at: performance.now(), value };
        return value;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
}

/**
 * Gauges of agent performance, queried on scrape (bounded labels: see AGENT_METRICS_MAX_KEYS).
 * The three gauges read one snapshot of agentStats, recomputed at most every `maxAgeMs`
 * (scrapes within it reuse the answer; see createMetrics).
 */
export function registerAgentMetrics(registry: Registry, db: Db, options: { maxAgeMs?: number } = {}): void {
  const label = (s: AgentStat): { dimension: string; key: string } => ({ dimension: s.dimension, key: s.other ? '_other' : (s.key ?? '_none') });
  // A registry collects its metrics concurrently: the three gauges share one computation.
  const load = snapshot(options.maxAgeMs ?? 0, () => agentStats(db, { window: AGENT_METRICS_WINDOW_SECONDS, keys: AGENT_METRICS_MAX_KEYS }));
  new Gauge({
    name: 'seedcore_agent_runs_recent',
    help: `Executions that ended in the last ${AGENT_METRICS_WINDOW_SECONDS} s by organ, agent or capability (dimension, key; the ${AGENT_METRICS_MAX_KEYS} busiest keys per dimension, the rest as _other, none as _none) and outcome (completed, failed, retry); queried on scrape.`,
    labelNames: ['dimension', 'key', 'outcome'],
    registers: [registry],
    async collect() {
      const stats = await load();
      this.reset();
      for (const s of stats.items) {
        this.set({ ...label(s), outcome: 'completed' }, s.completed);
        this.set({ ...label(s), outcome: 'failed' }, s.failed);
        this.set({ ...label(s), outcome: 'retry' }, s.retried);
      }
    },
  });
  new Gauge({
    name: 'seedcore_agent_run_duration_seconds_recent',
    help: `p50 and p95 duration of the executions that ended in the last ${AGENT_METRICS_WINDOW_SECONDS} s, by dimension and key (keys as in seedcore_agent_runs_recent).`,
    labelNames: ['dimension', 'key', 'quantile'],
    registers: [registry],
    async collect() {
      const stats = await load();
      this.reset();
      for (const s of stats.items) {
        if (s.p50Seconds !== null) this.set({ ...label(s), quantile: '0.5' }, s.p50Seconds);
        if (s.p95Seconds !== null) this.set({ ...label(s), quantile: '0.95' }, s.p95Seconds);
      }
    },
  });
  new Gauge({
    name: 'seedcore_agent_failure_ratio_recent',
    help: `(failed + retried) / executions that ended in the last ${AGENT_METRICS_WINDOW_SECONDS} s, by dimension and key (keys as in seedcore_agent_runs_recent).`,
    labelNames: ['dimension', 'key'],
    registers: [registry],
    async collect() {
      const stats = await load();
      this.reset();
      for (const s of stats.items) if (s.failureRate !== null) this.set(label(s), s.failureRate);
    },
  });
}
