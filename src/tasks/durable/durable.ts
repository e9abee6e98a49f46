/**
 * The durable part of a handler's `ctx`, one per execution: steps whose results survive a
 * crash, durable sleeps, events and child tasks.
 *
 * Replay model: a resumed or retried task runs its handler again from the top. Completed
 * steps return their stored result without running; code outside steps runs again. Step
 * identity is the name plus its occurrence: the second `ctx.step('fetch', …)` of one
 * execution is stored as `fetch#2`, the third as `fetch#3`, so a loop may reuse a name as long
 * as it makes its calls in the same order on every execution. Sleeps and spawns are numbered
 * the same way (`$sleep#1`, `$spawn#1`, …); user step names cannot start with `$`.
 */
import type { Db } from '../../db/types.js';
import { SeedCoreError, invalidInput } from '../../errors.js';
import { TaskSuspended } from '../suspend.js';
import { TASK_PRIORITIES } from '../types.js';
import type { SpawnOptions } from '../types.js';
import * as sql from './sql.js';

const MAX_NAME = 400;

function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) throw invalidInput(`${what} must be a string of 1 to ${MAX_NAME} characters`);
  return name;
}

function toJson(what: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value === undefined ? null : value);
  } catch (e) {
    throw invalidInput(`${what} is not JSON-serialisable: ${(e as Error).message}`);
  }
  if (json === undefined) return 'null';
  if (json.includes('\\u0000')) throw invalidInput(`${what} contains \\u0000, which PostgreSQL jsonb cannot store`);
  return json;
}

/** Validate spawn options into the JSON the stored function reads. */
export function spawnOptionsJson(o: SpawnOptions | undefined): string {
  if (o === undefined) return '{}';
  const out: Record<string, unknown> = {};
  if (o.queue !== undefined) out.queue = checkName('queue', o.queue);
  if (o.priority !== undefined) {
    if (!TASK_PRIORITIES.includes(o.priority)) throw invalidInput(`priority must be one of ${TASK_PRIORITIES.join(', ')}`);
    out.priority = o.priority;
  }
  if (o.maxAttempts !== undefined) {
    if (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 1) throw invalidInput('maxAttempts must be an integer ≥ 1');
    out.maxAttempts = o.maxAttempts;
  }
  if (o.timeoutSeconds !== undefined) {
    if (!(typeof o.timeoutSeconds === 'number' && o.timeoutSeconds > 0 && Number.isFinite(o.timeoutSeconds)))
      throw invalidInput('timeoutSeconds must be a positive number');
    out.timeoutSeconds = o.timeoutSeconds;
  }
  if (o.description !== undefined) out.description = String(o.description);
  if (o.domain !== undefined) out.domain = String(o.domain);
  return JSON.stringify(out);
}

export class Durable {
  private checkpoints: Promise<Map<string, sql.Checkpoint>> | undefined;
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly taskId: string,
    private readonly owner: string,
  ) {}

  /** The stored name of this occurrence of `base`: base, base#2, base#3, … */
  private occurrence(base: string): string {
    const n = (this.seen.get(base) ?? 0) + 1;
    this.seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  }

  private lost(what: string): SeedCoreError {
    return new SeedCoreError(
      'SEEDCORE_CONFLICT',
      `${what}: task ${this.taskId} is no longer running under ${this.owner} (lease lost or cancelled); nothing was stored`,
      {
        details: { taskId: this.taskId, owner: this.owner },
      },
    );
  }

  /** One read per execution: every stored step of the task, at its first durable call. */
  private stored(): Promise<Map<string, sql.Checkpoint>> {
    this.checkpoints ??= sql.loadCheckpoints(this.db, this.taskId);
    return this.checkpoints;
  }

  async step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    checkName('step name', name);
    if (name.startsWith('$')) throw invalidInput('step names cannot start with $ (reserved for sleeps and spawns)');
    const key = this.occurrence(name);
    const stored = await this.stored();
    const hit = stored.get(key);
    if (hit) return hit.result as T;
    const value = await fn();
    const saved = await sql.saveCheckpoint(this.db, this.taskId, this.owner, key, toJson(`step ${key}'s result`, value));
    if (!saved) throw this.lost(`step ${key}`);
    // Stored by this execution: later than everything loaded at its start.
    stored.set(key, { result: saved.result, at: Infinity });
    // The stored JSON, not the live value: a replay returns exactly what this call returns.
    return saved.result as T;
  }

  async sleepFor(seconds: number): Promise<void> {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) throw invalidInput('sleepFor: seconds must be a finite number ≥ 0');
    await this.sleep(seconds, null);
  }

  async sleepUntil(date: Date): Promise<void> {
    if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw invalidInput('sleepUntil: expected a valid Date');
    await this.sleep(null, date);
  }

  private async sleep(seconds: number | null, until: Date | null): Promise<void> {
    const key = this.occurrence('$sleep');
    // A replayed sleep that later steps were stored after is over: no round trip. (The last
    // sleep before the resume point still asks the database, whose clock decides.)
    const stored = await this.stored();
    const mine = stored.get(key);
    if (mine && [...stored.values()].some((c) => c.at > mine.at)) return;
    const r = await sql.sleepTask(this.db, this.taskId, this.owner, key, seconds, until);
    if (r?.status === 'done') stored.set(key, { result: null, at: Infinity });
    if (!r) throw this.lost('sleep');
    if (r.status === 'suspended') throw new TaskSuspended(this.taskId, 'sleep');
  }

  async awaitEvent<T = unknown>(name: string, options: { timeoutSeconds?: number } = {}): Promise<T> {
    checkName('event name', name);
    const t = options.timeoutSeconds;
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0))
      throw invalidInput('awaitEvent: timeoutSeconds must be a finite number ≥ 0');
    const r = await sql.awaitEvent(this.db, this.taskId, this.owner, name, t ?? null);
    if (!r) throw this.lost(`awaitEvent ${name}`);
    if (r.status === 'emitted') return r.payload as T;
    if (r.status === 'timeout') {
      throw new SeedCoreError('SEEDCORE_EVENT_TIMEOUT', `event '${name}' was not emitted within ${t ?? 0} s`, {
        details: { event: name, timeoutSeconds: t ?? null },
      });
    }
    throw new TaskSuspended(this.taskId, `event:${name}`);
  }

  async spawn(type: string, params: Record<string, unknown> = {}, options?: SpawnOptions): Promise<string> {
    checkName('task type', type);
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw invalidInput('spawn: params must be an object');
    const paramsJson = toJson('spawn params', params);
    const optionsJson = spawnOptionsJson(options);
    const key = this.occurrence('$spawn');
    const id = await sql.spawnChild(this.db, this.taskId, this.owner, key, type, paramsJson, optionsJson);
    if (!id) throw this.lost(`spawn ${type}`);
    return id;
  }

  async awaitTasks<T = unknown>(ids: readonly string[]): Promise<T[]> {
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw invalidInput('awaitTasks: expected an array of task ids');
    if (ids.length === 0) return [];
    const r = await sql.awaitChildren(this.db, this.taskId, this.owner, ids);
    if (!r) throw this.lost('awaitTasks');
    switch (r.status) {
      case 'completed':
        return r.results as T[];
      case 'failed':
        throw new SeedCoreError('SEEDCORE_CHILD_FAILED', `child task ${r.child} ${r.child_status}${r.error ? `: ${r.error}` : ''}`, {
          details: { childId: r.child, status: r.child_status, error: r.error },
        });
      case 'invalid':
        throw invalidInput(`awaitTasks: ${r.child} is not a child task of ${this.taskId} (spawn it with ctx.spawn)`, { childId: r.child });
      default:
        throw new TaskSuspended(this.taskId, `tasks:${r.pending}`);
    }
  }
}
