/** The shape of a `tasks` row as the coordinator API returns it. */
import type { TaskPriority, TaskStatus } from './types.js';

export interface TaskRow {
  id: string;
  status: TaskStatus;
  attempts: number;
  type: string;
  params: Record<string, unknown>;
  description: string | null;
  domain: string | null;
  drift_score: number;
  run_after: Date | null;
  result: unknown;
  error: string | null;
  locked_by: string | null;
  locked_at: Date | null;
  owner_id: string | null;
  lease_expires_at: Date | null;
  last_heartbeat: Date | null;
  created_at: Date;
  updated_at: Date;
  priority: TaskPriority;
  queue: string;
  max_attempts: number | null;
  timeout_seconds: number | null;
  dedup_key: string | null;
  expires_at: Date | null;
}

/** Column list matching TaskRow (status as text so both backends return a plain string). */
export const TASK_COLUMNS =
  'id, status::text AS status, attempts, type, params, description, domain, drift_score, run_after, result, error, locked_by, locked_at, owner_id, lease_expires_at, last_heartbeat, created_at, updated_at, ' +
  'priority::text AS priority, queue, max_attempts, timeout_seconds, dedup_key, expires_at';
