/** Registry reads and one-shot operations (epoch, lookup, listing, expiry), all on the database clock. */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/types.js';
import { invalidInput } from '../errors.js';

export type InstanceStatus = 'starting' | 'alive' | 'draining' | 'dead';

/** One registry_instance row as the views return it, plus its heartbeat age by the database clock. */
export interface InstanceInfo {
  instance_id: string;
  logical_id: string;
  cluster_epoch: string;
  status: InstanceStatus;
  actor_name: string | null;
  serve_route: string | null;
  node_id: string | null;
  ip_address: string | null;
  pid: number | null;
  started_at: Date;
  stopped_at: Date | null;
  last_heartbeat: Date;
  /** now() - last_heartbeat in seconds, computed by the database. */
  heartbeat_age_seconds: number;
}

const COLUMNS = `i.instance_id, i.logical_id, i.cluster_epoch, i.status::text AS status, i.actor_name, i.serve_route, i.node_id,
  host(i.ip_address) AS ip_address, i.pid, i.started_at, i.stopped_at, i.last_heartbeat,
  extract(epoch FROM now() - i.last_heartbeat)::float8 AS heartbeat_age_seconds`;

/**
 * The current cluster epoch, creating one if the cluster has none. The first epoch is
 * inserted with ON CONFLICT DO NOTHING rather than set_current_epoch(): when many processes
 * start at once on an empty cluster, an upsert would let each overwrite the previous one and
 * fence the instances that registered a moment earlier; this way exactly one epoch wins.
 */
export async function currentEpoch(db: Queryable): Promise<string> {
  const r = await db.query<{ current_epoch: string }>('SELECT current_epoch FROM cluster_metadata WHERE id = 1');
  if (r.rows[0]) return r.rows[0].current_epoch;
  await db.query('INSERT INTO cluster_metadata (id, current_epoch) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [randomUUID()]);
  const again = await db.query<{ current_epoch: string }>('SELECT current_epoch FROM cluster_metadata WHERE id = 1');
  return (again.rows[0] as { current_epoch: string }).current_epoch;
}

/** Start a new cluster epoch: every instance of the old one is fenced at its next beat. */
export async function rotateEpoch(db: Queryable, epoch: string = randomUUID()): Promise<string> {
  await db.query('SELECT set_current_epoch($1::uuid)', [epoch]);
  return epoch;
}

/** The liveness window (cluster_metadata.liveness_seconds; 15 when the cluster has no row yet). */
export async function livenessSeconds(db: Queryable): Promise<number> {
  const r = await db.query<{ s: number }>('SELECT coalesce((SELECT liveness_seconds FROM cluster_metadata WHERE id = 1), 15) AS s');
  return Number(r.rows[0]?.s ?? 15);
}

/** The instance serving `logicalId` now (active_instance), or null. */
export async function lookup(db: Queryable, logicalId: string): Promise<InstanceInfo | null> {
  if (typeof logicalId !== 'string' || logicalId === '') throw invalidInput('logical id must be a non-empty string', { field: 'logicalId' });
  const r = await db.query<InstanceInfo>(`SELECT ${COLUMNS} FROM active_instance i WHERE i.logical_id = $1`, [logicalId]);
  return r.rows[0] ?? null;
}

/** Live instances of the current epoch (active_instances), by logical id then freshest heartbeat. */
export async function listActive(db: Queryable): Promise<InstanceInfo[]> {
  const r = await db.query<InstanceInfo>(`SELECT ${COLUMNS} FROM active_instances i ORDER BY i.logical_id, i.last_heartbeat DESC, i.instance_id`);
  return r.rows;
}

/** Every registered instance, any status or epoch, newest first (for `registry list --all`). */
export async function listInstances(db: Queryable, options: { limit?: number } = {}): Promise<InstanceInfo[]> {
  const r = await db.query<InstanceInfo>(`SELECT ${COLUMNS} FROM registry_instance i ORDER BY i.started_at DESC, i.instance_id LIMIT $1`, [
    options.limit ?? 1000,
  ]);
  return r.rows;
}

export interface ExpireResult {
  /** Instances marked dead because their heartbeat was older than the window. */
  stale: number;
  /** Instances marked dead because they belong to an older epoch. */
  oldEpoch: number;
}

/** Run both expiry functions once (timeout: the liveness window unless given). */
export async function expireInstances(db: Queryable, timeoutSeconds?: number): Promise<ExpireResult> {
  const r = await db.query<{ stale: number; old_epoch: number }>(
    `SELECT expire_stale_instances(coalesce($1::int, (SELECT liveness_seconds FROM cluster_metadata WHERE id = 1), 15)) AS stale,
            expire_old_epoch_instances() AS old_epoch`,
    [timeoutSeconds ?? null],
  );
  return { stale: Number(r.rows[0]?.stale ?? 0), oldEpoch: Number(r.rows[0]?.old_epoch ?? 0) };
}
