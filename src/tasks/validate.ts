/**
 * Strict validation of task submissions: unknown fields, wrong types and malformed ids are
 * rejected with SEEDCORE_INVALID_INPUT before anything is written.
 */
import { invalidInput } from '../errors.js';
import { TASK_PRIORITIES, type TaskPriority } from './types.js';

/** One task to submit. */
export interface SubmitTaskInput {
  /** Optional client-chosen id (a UUID), so tasks of one batch can depend on each other. */
  id?: string;
  /** Task type; selects the handler. */
  type: string;
  /** Handler input, a JSON object. @defaultValue {} */
  params?: Record<string, unknown>;
  description?: string | null;
  domain?: string | null;
  /** OCPS valve input: 0.0 = fast path, >= 0.5 = escalate. @defaultValue 0 */
  drift_score?: number;
  /** Not claimed before this time (Date or ISO 8601 string). */
  run_after?: Date | string | null;
  /** Ids of tasks this one depends on: existing tasks, or tasks of the same batch. */
  dependsOn?: string[];
  /** Agent that owns the task (task_owned_by_agent; the agent is registered if new). */
  agentId?: string;
  /** Organ that executes the task (task_executed_by_organ; the organ is registered if new). */
  organId?: string;
  /** critical, high, normal or low. @defaultValue 'normal' */
  priority?: TaskPriority;
  /** Named queue (workers serve a list of queues). @defaultValue 'default' */
  queue?: string;
  /** Executions allowed (≥ 1); default: the dispatcher's maxAttempts. */
  max_attempts?: number | null;
  /** Handler timeout in seconds (> 0); default: the dispatcher's per-type timeout. */
  timeout_seconds?: number | null;
  /**
   * Deduplication key: while a task with this key is created/queued/running/retry, submitting
   * another returns that existing task (nothing new is written for it).
   */
  dedup_key?: string | null;
  /** End of the time window: not started by then → cancelled with error 'expired'. */
  expires_at?: Date | string | null;
}

/** A submission after validation, with every field normalised. */
export interface NormalisedTask {
  id: string | null;
  type: string;
  params: Record<string, unknown>;
  description: string | null;
  domain: string | null;
  drift_score: number;
  run_after: string | null;
  dependsOn: string[];
  agentId: string | null;
  organId: string | null;
  priority: TaskPriority;
  queue: string;
  max_attempts: number | null;
  timeout_seconds: number | null;
  dedup_key: string | null;
  expires_at: string | null;
}

const FIELDS = new Set([
  'id',
  'type',
  'params',
  'description',
  'domain',
  'drift_score',
  'run_after',
  'dependsOn',
  'agentId',
  'organId',
  'priority',
  'queue',
  'max_attempts',
  'timeout_seconds',
  'dedup_key',
  'expires_at',
]);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TEXT = 100_000;

export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
}

function optText(where: string, name: string, v: unknown, max = MAX_TEXT): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalidInput(`${where}: ${name} must be a string or null`, { field: name });
  if (v.length > max) throw invalidInput(`${where}: ${name} is longer than ${max} characters`, { field: name });
  return v;
}

function nonEmpty(where: string, name: string, v: unknown, max = 200): string {
  if (typeof v !== 'string' || v.trim() === '') throw invalidInput(`${where}: ${name} must be a non-empty string`, { field: name });
  if (v.length > max) throw invalidInput(`${where}: ${name} is longer than ${max} characters`, { field: name });
  return v;
}

/** Parse a timestamp given as Date or ISO 8601 text; returns ISO text. */
export function parseTimestamp(where: string, name: string, v: unknown): string {
  const d = v instanceof Date ? v : typeof v === 'string' && v.trim() !== '' ? new Date(v) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw invalidInput(`${where}: ${name} must be a Date or an ISO 8601 timestamp`, { field: name });
  return d.toISOString();
}

function normaliseOne(raw: unknown, index: number): NormalisedTask {
  const where = `task[${index}]`;
  if (!isPlainObject(raw)) throw invalidInput(`${where} must be an object`);
  for (const k of Object.keys(raw)) {
    if (!FIELDS.has(k)) throw invalidInput(`${where}: unknown field '${k}' (allowed: ${[...FIELDS].join(', ')})`, { field: k });
  }
  const id = raw.id === undefined ? null : raw.id;
  if (id !== null && !isUuid(id)) throw invalidInput(`${where}: id must be a UUID`, { field: 'id' });
  const params = raw.params === undefined ? {} : raw.params;
  if (!isPlainObject(params)) throw invalidInput(`${where}: params must be a JSON object`, { field: 'params' });
  try {
    JSON.stringify(params);
  } catch (e) {
    throw invalidInput(`${where}: params is not JSON-serialisable: ${(e as Error).message}`, { field: 'params' });
  }
  const drift = raw.drift_score === undefined ? 0 : raw.drift_score;
  if (typeof drift !== 'number' || !Number.isFinite(drift)) throw invalidInput(`${where}: drift_score must be a finite number`, { field: 'drift_score' });
  const runAfter = raw.run_after === undefined || raw.run_after === null ? null : parseTimestamp(where, 'run_after', raw.run_after);
  const deps = raw.dependsOn === undefined ? [] : raw.dependsOn;
  if (!Array.isArray(deps)) throw invalidInput(`${where}: dependsOn must be an array of task ids`, { field: 'dependsOn' });
  for (const d of deps)
    if (!isUuid(d)) throw invalidInput(`${where}: dependsOn entries must be task ids (UUIDs), got ${JSON.stringify(d)}`, { field: 'dependsOn' });
  const priority = raw.priority === undefined || raw.priority === null ? 'normal' : raw.priority;
  if (!TASK_PRIORITIES.includes(priority as TaskPriority))
    throw invalidInput(`${where}: priority must be one of ${TASK_PRIORITIES.join(', ')}`, { field: 'priority' });
  const maxAttempts = raw.max_attempts === undefined || raw.max_attempts === null ? null : raw.max_attempts;
  if (maxAttempts !== null && (!Number.isInteger(maxAttempts) || (maxAttempts as number) < 1 || (maxAttempts as number) > 1000))
    throw invalidInput(`${where}: max_attempts must be an integer between 1 and 1000`, { field: 'max_attempts' });
  const timeout = raw.timeout_seconds === undefined || raw.timeout_seconds === null ? null : raw.timeout_seconds;
  if (timeout !== null && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0))
    throw invalidInput(`${where}: timeout_seconds must be a positive number`, { field: 'timeout_seconds' });
  const expiresAt = raw.expires_at === undefined || raw.expires_at === null ? null : parseTimestamp(where, 'expires_at', raw.expires_at);
  if (expiresAt !== null && runAfter !== null && expiresAt <= runAfter)
    throw invalidInput(`${where}: expires_at must be later than run_after (the window would be empty)`, { field: 'expires_at' });
  const lowerDeps = [...new Set((deps as string[]).map((d) => d.toLowerCase()))];
  return {
    id: id === null ? null : (id as string).toLowerCase(),
    type: nonEmpty(where, 'type', raw.type),
    params,
    description: optText(where, 'description', raw.description),
    domain: optText(where, 'domain', raw.domain, 200),
    drift_score: drift,
    run_after: runAfter,
    dependsOn: lowerDeps,
    agentId: raw.agentId === undefined ? null : nonEmpty(where, 'agentId', raw.agentId),
    organId: raw.organId === undefined ? null : nonEmpty(where, 'organId', raw.organId),
    priority: priority as TaskPriority,
    queue: raw.queue === undefined || raw.queue === null ? 'default' : nonEmpty(where, 'queue', raw.queue),
    max_attempts: maxAttempts as number | null,
    timeout_seconds: timeout as number | null,
    dedup_key: raw.dedup_key === undefined || raw.dedup_key === null ? null : nonEmpty(where, 'dedup_key', raw.dedup_key, 500),
    expires_at: expiresAt,
  };
}

/**
 * Validate a batch: every task, duplicate ids, self-dependencies and cycles among the tasks
 * of the batch (a new task can only be depended on by tasks of its own batch, so a cycle can
 * only form there).
 */
export function normaliseBatch(inputs: unknown): NormalisedTask[] {
  if (!Array.isArray(inputs)) throw invalidInput('tasks must be an array');
  if (inputs.length === 0) throw invalidInput('at least one task is required');
  if (inputs.length > 10_000) throw invalidInput('at most 10000 tasks per submission');
  const tasks = inputs.map((t, i) => normaliseOne(t, i));
  const byId = new Map<string, number>();
  tasks.forEach((t, i) => {
    if (t.id === null) return;
    if (byId.has(t.id)) throw invalidInput(`task[${i}]: duplicate id ${t.id} in the batch`, { field: 'id' });
    byId.set(t.id, i);
  });
  tasks.forEach((t, i) => {
    if (t.id !== null && t.dependsOn.includes(t.id)) throw invalidInput(`task[${i}]: a task cannot depend on itself`, { field: 'dependsOn' });
  });
  // Cycle check over in-batch edges (depth-first, iterative colouring).
  const colour = new Array<number>(tasks.length).fill(0);
  const visit = (start: number): void => {
    const stack: { node: number; next: number }[] = [{ node: start, next: 0 }];
    colour[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { node: number; next: number };
      const deps = (tasks[top.node] as NormalisedTask).dependsOn;
      if (top.next >= deps.length) {
        colour[top.node] = 2;
        stack.pop();
        continue;
      }
      const dep = byId.get(deps[top.next++] as string);
      if (dep === undefined) continue;
      if (colour[dep] === 1)
        throw invalidInput(`dependency cycle among the submitted tasks (through ${(tasks[dep] as NormalisedTask).id})`, { field: 'dependsOn' });
      if (colour[dep] === 0) {
        colour[dep] = 1;
        stack.push({ node: dep, next: 0 });
      }
    }
  };
  for (let i = 0; i < tasks.length; i++) if (colour[i] === 0) visit(i);
  return tasks;
}
