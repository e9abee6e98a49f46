/**
 * What routing cannot do, and who can: the unroutable report (waiting tasks no live organ can
 * serve, with the constraints nobody meets) and capability discovery (each capability, its
 * live providers and the waiting tasks that need it).
 *
 * Liveness is the registry's, judged by the database clock: a provider is an alive instance of
 * the current epoch within the liveness window whose logical id is the organ id (the function
 * organ_is_live, migration 021). The claim itself routes in src/tasks/claim.ts.
 */
import { Type } from '@sinclair/typebox';
import { Gauge, type Registry } from 'prom-client';
import type { Queryable } from '../db/types.js';
import { TaskSchema } from '../tasks/rows.js';
import { snapshot } from './stats.js';

/** null: the task can be served (or is not waiting); otherwise the constraints no live organ meets ('summarize>=2', 'organ:ID'). */
export type Unroutable = { missing: string[] } | null;

/** The computed `unroutable` field of task list items and `tasks get`. */
export const UnroutableSchema = Type.Unsafe<Unroutable>({
  type: ['object', 'null'],
  properties: { missing: { type: 'array', items: { type: 'string' } } },
  required: ['missing'],
  description: "null, or the constraints no live organ meets ('summarize>=2', 'organ:ID') for a waiting task that is unroutable.",
});

/** A task row with its computed `unroutable` field (GET /api/tasks items, GET /api/tasks/:id). */
export const RoutedTaskSchema = Type.Object(
  { ...TaskSchema.properties, unroutable: UnroutableSchema },
  { description: 'A task row and whether it is unroutable.' },
);

/** A task waits for a claim: queued or retry, and due. */
const WAITING = `t.status IN ('queued', 'retry') AND coalesce(t.run_after, t.created_at) <= now()`;

/**
 * The unroutable condition on a tasks row aliased `t`: it waits for a claim (queued or retry,
 * and due), has constraints, and no live organ meets them (task_route_missing, migration 021).
 * The one definition behind unroutableTaskIds, the unroutable metric and the dashboard's
 * unroutable filter (GET /api/overview/tasks?unroutable=true).
 */
export const UNROUTABLE_SQL = `(${WAITING} AND t.requires IS NOT NULL AND task_route_missing(t.route_organ, t.requires) IS NOT NULL)`;

/** The unroutable report of the given tasks (ids not found are absent from the map). */
export async function unroutableReport(db: Queryable, ids: readonly string[]): Promise<Map<string, Unroutable>> {
  const out = new Map<string, Unroutable>();
  if (ids.length === 0) return out;
  const res = await db.query<{ id: string; missing: string[] | null }>(
    `SELECT t.id::text AS id, CASE WHEN t.requires IS NOT NULL AND ${WAITING} THEN task_route_missing(t.route_organ, t.requires) END AS missing
       FROM tasks t WHERE t.id = ANY($1::uuid[])`,
    [ids],
  );
  for (const r of res.rows) out.set(r.id, r.missing === null ? null : { missing: r.missing });
  return out;
}

/** Add the `unroutable` field to task rows (one query for the page). */
export async function withUnroutable<T extends { id: string }>(db: Queryable, rows: readonly T[]): Promise<(T & { unroutable: Unroutable })[]> {
  const report = await unroutableReport(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => ({ ...r, unroutable: report.get(r.id) ?? null }));
}

/**
 * Ids of the waiting tasks no live organ can serve, oldest due first (at most `limit`). The
 * scan reads the routed waiting tasks (idx_tasks_claim_routed holds exactly those).
 */
export async function unroutableTaskIds(db: Queryable, options: { limit?: number } = {}): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `SELECT t.id::text AS id FROM tasks t
      WHERE ${UNROUTABLE_SQL}
      ORDER BY coalesce(t.run_after, t.created_at), t.created_at
      LIMIT $1`,
    [options.limit ?? 100],
  );
  return res.rows.map((r) => r.id);
}

/**
 * Unroutable waiting tasks per missing constraint's capability name (for the metric): at most
 * `maxNames` names, the rest counted under '_other' so the label set stays bounded.
 */
export async function unroutableCounts(db: Queryable, maxNames = 20): Promise<{ capability: string; count: number }[]> {
  const res = await db.query<{ capability: string; count: number }>(
    `WITH m AS (
       SELECT split_part(x, '>=', 1) AS capability, count(*)::int AS count
         FROM tasks t CROSS JOIN LATERAL unnest(task_route_missing(t.route_organ, t.requires)) AS x
        WHERE ${WAITING} AND t.requires IS NOT NULL
        GROUP BY 1)
     SELECT CASE WHEN rn <= $1 THEN capability ELSE '_other' END AS capability, sum(count)::int AS count
       FROM (SELECT m.*, row_number() OVER (ORDER BY count DESC, capability) AS rn FROM m) r
      GROUP BY 1 ORDER BY 2 DESC, 1`,
    [maxNames],
  );
  return res.rows;
}

export const CapabilityListSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      name: Type.String(),
      providers: Type.Array(
        Type.Object({
          organId: Type.String(),
          instanceId: Type.String({ format: 'uuid' }),
          version: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
          inFlight: Type.Integer({ description: 'Tasks the instance is running.' }),
        }),
      ),
      waiting: Type.Integer({ description: 'Waiting (queued or retry) tasks that require the capability.' }),
    }),
  ),
  nextCursor: Type.Null(),
});

export interface CapabilityProvider {
  organId: string;
  /** The registry instance serving the organ. */
  instanceId: string;
  /** The version the organ provides (null: written without one, counted as 0). */
  version: string | null;
  /** Tasks that instance is running now. */
  inFlight: number;
}

export interface CapabilityInfo {
  name: string;
  providers: CapabilityProvider[];
  /** Waiting (queued or retry) tasks that require it. */
  waiting: number;
}

/** Every known capability with its live providers and the number of waiting tasks that require it, by name. */
export async function listCapabilities(db: Queryable): Promise<CapabilityInfo[]> {
  const res = await db.query<{ name: string; providers: CapabilityProvider[]; waiting: number }>(
    `SELECT c.name,
            coalesce((SELECT jsonb_agg(jsonb_build_object('organId', e.organ_id, 'instanceId', ri.instance_id::text, 'version', e.version,
                                                          'inFlight', (SELECT count(*) FROM tasks r WHERE r.status = 'running' AND r.owner_id = ri.instance_id::text))
                                       ORDER BY e.organ_id, ri.instance_id)
                        FROM organ_provides_capability e
                        JOIN registry_instance ri ON ri.logical_id = e.organ_id
                        JOIN cluster_metadata cm ON cm.id = 1
                       WHERE e.capability_id = c.capability_id AND ri.status = 'alive' AND ri.cluster_epoch = cm.current_epoch
                         AND ri.last_heartbeat > now() - make_interval(secs => cm.liveness_seconds)), '[]'::jsonb) AS providers,
            (SELECT count(*)::int FROM task_uses_capability u JOIN tasks t ON t.id = u.task_id
              WHERE u.capability_id = c.capability_id AND t.status IN ('queued', 'retry')) AS waiting
       FROM capability c
      ORDER BY c.name`,
  );
  return res.rows.map((r) => ({
    name: r.name,
    providers: ((typeof r.providers === 'string' ? JSON.parse(r.providers) : r.providers) as CapabilityProvider[]).map((p) => ({
      ...p,
      inFlight: Number(p.inFlight),
    })),
    waiting: r.waiting,
  }));
}

/** Most capability names the unroutable metric labels; the rest are summed under '_other'. */
export const UNROUTABLE_METRIC_NAMES = 20;

/**
 * seedcore_tasks_unroutable{capability}: waiting tasks no live organ can serve, per capability
 * nobody provides at the required version (queried on scrape, at most every `maxAgeMs`: the
 * count calls task_route_missing per waiting routed task, about a second at 25,000 of them;
 * 'organ' for a live bound organ that falls short).
 */
export function registerRoutingMetrics(registry: Registry, db: Queryable, options: { maxAgeMs?: number } = {}): void {
  const load = snapshot(options.maxAgeMs ?? 0, () => unroutableCounts(db, UNROUTABLE_METRIC_NAMES));
  new Gauge({
    name: 'seedcore_tasks_unroutable',
    help: `Waiting tasks no live organ can serve, by missing capability (at most ${UNROUTABLE_METRIC_NAMES} names, the rest as _other; queried on scrape).`,
    labelNames: ['capability'],
    registers: [registry],
    async collect() {
      const byLabel = new Map<string, number>();
      for (const r of await load()) {
        const label = r.capability.startsWith('organ:') ? 'organ' : r.capability;
        byLabel.set(label, (byLabel.get(label) ?? 0) + r.count);
      }
      this.reset();
      for (const [capability, n] of byLabel) this.set({ capability }, n);
    },
  });
}
