/**
 * The contract between the dispatcher and task handlers. Graph and facts code implement
 * handlers and context pieces against these types; the dispatcher provides them.
 */
import type { Db } from '../db/types.js';

export const TASK_STATUSES = ['created', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retry'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Priority levels (migration 013), in claim order. */
export const TASK_PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** What a handler receives: the claimed row's business columns. */
export interface TaskRecord {
  id: string;
  type: string;
  params: Record<string, unknown>;
  description: string | null;
  domain: string | null;
  drift_score: number;
  /** Executions started, including this one (1 on the first run). */
  attempts: number;
  /** Named queue the task was claimed from (migration 013). */
  queue?: string;
  priority?: TaskPriority;
  /** Per-task execution budget; null = the dispatcher default. */
  max_attempts?: number | null;
  /** Per-task handler timeout; null = the dispatcher's per-type timeout. */
  timeout_seconds?: number | null;
}

/** A fact as handlers see it. */
export interface FactRef {
  id: string;
  text: string;
  tags: string[];
  meta_data: Record<string, unknown>;
}

/**
 * Facts access bound to one running task: reads write `task_reads_fact` edges and produced
 * facts get `task_produces_fact` edges, so the graph records the memory-action loop.
 */
export interface TaskFacts {
  /** Full-text search; every returned fact is recorded as read by the task. */
  search(query: string, options?: { limit?: number; tags?: string[] }): Promise<FactRef[]>;
  /** Fetch facts by id; each is recorded as read by the task. */
  read(ids: string[]): Promise<FactRef[]>;
  /**
   * Create a fact recorded as produced by the task; its sources are the task and the task's
   * agent and organ (task_owned_by_agent / task_executed_by_organ edges), plus any given.
   * `derivedFrom` names the facts it was derived from (fact__derives_from__fact edges).
   */
  produce(fact: {
    text: string;
    tags?: string[];
    meta_data?: Record<string, unknown>;
    subject?: string;
    predicate?: string;
    object?: string;
    confidence?: number;
    valid_from?: string | Date;
    derivedFrom?: string[];
    sources?: Array<{ kind: 'agent' | 'organ' | 'artifact' | 'uri'; ref: string }>;
  }): Promise<FactRef>;
}

export interface TaskLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface TaskContext {
  /** Fires on cancel, lease loss or shutdown; handlers should stop soon after. */
  signal: AbortSignal;
  /** Renew this task's lease now (the dispatcher also renews all leases on an interval). */
  heartbeat(): Promise<void>;
  db: Db;
  /** The worker identity the task is claimed under (its registry instance id when registered). */
  ownerId: string;
  facts: TaskFacts;
  /** Report progress for long work, e.g. (done, total). */
  progress(done: number, total?: number): void;
  logger: TaskLogger;
}

/** A handler returns a JSON-serialisable result, stored in tasks.result; throwing fails the attempt. */
export type TaskHandler = (task: TaskRecord, ctx: TaskContext) => Promise<unknown>;
export type HandlerMap = Record<string, TaskHandler>;
