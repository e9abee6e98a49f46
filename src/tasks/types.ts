/**
 * The contract between the dispatcher and task handlers. Graph and facts code implement
 * handlers and context pieces against these types; the dispatcher provides them.
 */
import type { Db } from '../db/types.js';
import type { TaskArtifacts } from '../agents/artifacts.js';
import type { TaskMemory } from '../agents/memory.js';

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
  /**
   * Versioned agent memory (memory_cell): get records a task__reads__memory_cell edge, put
   * writes the next version with task__writes__memory_cell and agent__owns__memory_cell edges;
   * put with `expectedVersion` throws SEEDCORE_CONFLICT when another version is the latest.
   */
  memory: TaskMemory;
  /** Artifacts the task produces (artifact + task__produces__artifact). */
  artifacts: TaskArtifacts;
  /** Report progress for long work, e.g. (done, total). */
  progress(done: number, total?: number): void;
  logger: TaskLogger;
  /**
   * Durable step: returns step `name`'s stored result if it completed in an earlier execution
   * (without calling `fn`), else runs `fn`, stores its JSON result (a compare-and-set on this
   * worker's ownership) and returns it. A step that throws is not stored. Code outside steps
   * runs again when the task resumes or retries. Repeated names in one execution are stored
   * as `name`, `name#2`, `name#3`, … (keep the call order stable).
   */
  step<T>(name: string, fn: () => Promise<T> | T): Promise<T>;
  /** Suspend durably for `seconds`; the worker slot is freed and the task resumes on any worker. */
  sleepFor(seconds: number): Promise<void>;
  /** Suspend durably until `date`. */
  sleepUntil(date: Date): Promise<void>;
  /**
   * Wait for event `name` (emitted before or after this call) and return its payload; with
   * `timeoutSeconds`, throws SEEDCORE_EVENT_TIMEOUT when it was not emitted in time.
   */
  awaitEvent<T = unknown>(name: string, options?: { timeoutSeconds?: number }): Promise<T>;
  /** Create a child task (once per execution order; a re-run returns the same id). */
  spawn(type: string, params?: Record<string, unknown>, options?: SpawnOptions): Promise<string>;
  /**
   * Wait for child tasks: resumes once with all their results (in the given order), or
   * throws SEEDCORE_CHILD_FAILED naming the first child that failed or was cancelled.
   */
  awaitTasks<T = unknown>(ids: readonly string[]): Promise<T[]>;
}

/** Options of a child task created by `ctx.spawn`. */
export interface SpawnOptions {
  queue?: string;
  priority?: TaskPriority;
  maxAttempts?: number;
  timeoutSeconds?: number;
  description?: string;
  domain?: string;
}

/** A handler returns a JSON-serialisable result, stored in tasks.result; throwing fails the attempt. */
export type TaskHandler = (task: TaskRecord, ctx: TaskContext) => Promise<unknown>;
export type HandlerMap = Record<string, TaskHandler>;
