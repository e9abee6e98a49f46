/**
 * Execution: runs a held task's handler with its timeout, turns what the handler did into an
 * outcome for the OutcomeWriter, and takes a task away from its handler when it is no longer
 * ours (cancel, lease lost, self-fence, shutdown).
 *
 * What a handler's end becomes:
 * - a result → `completed` (a result too large, not JSON-serialisable, or holding a \u0000
 *   that jsonb cannot store fails the task at once: PERMANENT, no retry);
 * - a throw or a timeout → `retry` after backoff, or `failed` at the last attempt;
 * - TaskSuspended → nothing: the handler already stored the task's next state;
 * - shutdown → handed back by stop() (the attempt counts).
 */
import type { Db } from '../db/types.js';
import { SeedCoreError, isSeedCoreError } from '../errors.js';
import { backoffDelay } from './backoff.js';
import { makeContext } from './context.js';
import { DEFAULTS } from './defaults.js';
import type { DispatcherEvent, DispatcherOptions, Held, ResolvedOptions } from './dispatcher-options.js';
import type { Holdings } from './holdings.js';
import type { OutcomeWriter } from './outcomes.js';
import { isTaskSuspended } from './suspend.js';
import type { TaskLogger } from './types.js';

/** Failures the dispatcher itself raises that no retry can fix are marked in `details`. */
const PERMANENT = { permanent: true } as const;

/** A failure that goes straight to `failed` (SEEDCORE_INVALID_INPUT with details.permanent). */
export function permanentFailure(message: string): SeedCoreError {
  return new SeedCoreError('SEEDCORE_INVALID_INPUT', message, { details: PERMANENT });
}

export function isPermanentFailure(e: unknown): boolean {
  return isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT') && e.details?.permanent === true;
}

export interface ExecutionDeps {
  db: Db;
  opts: DispatcherOptions;
  options: ResolvedOptions;
  holdings: Holdings;
  writer: OutcomeWriter;
  log: TaskLogger;
  emit(e: DispatcherEvent): void;
  onError(where: string, e: unknown): void;
  /** A slot was freed or a task left the holdings: start the next, maybe claim. */
  onSlotFree(): void;
  /** ctx.heartbeat() for this task. */
  heartbeat(h: Held): Promise<void>;
}

export class Execution {
  /** The error a handler interrupted by shutdown is finished with (identity marks it). */
  readonly shutdownError = new SeedCoreError('SEEDCORE_UNAVAILABLE', 'worker shutting down');

  constructor(private readonly d: ExecutionDeps) {}

  /** Start as many prefetched tasks as there are free slots. */
  fill(): void {
    const h = this.d.holdings;
    while (h.running < this.d.options.concurrency && h.buffer.length > 0) this.run(h.buffer.shift() as Held);
  }

  run(h: Held): void {
    h.state = 'running';
    this.d.holdings.running++;
    const { task } = h;
    const { opts } = this.d;
    const handler = opts.handlers[task.type];
    this.d.emit({ kind: 'started', task });
    const timeoutMs = task.timeout_seconds != null ? task.timeout_seconds * 1000 : (opts.timeouts?.[task.type] ?? opts.defaultTimeoutMs ?? 0);
    if (timeoutMs > 0) h.timer = setTimeout(() => this.finish(h, new SeedCoreError('SEEDCORE_TIMEOUT', `timed out after ${timeoutMs} ms`)), timeoutMs);
    const ctx = makeContext({
      db: this.d.db,
      held: h,
      logger: this.d.log,
      taskFacts: opts.taskFacts,
      heartbeat: () => this.d.heartbeat(h),
      organAgentId: opts.organ?.agentId,
    });
    Promise.resolve()
      .then(() => (handler as NonNullable<typeof handler>)(task, ctx))
      .then(
        (result) => this.finish(h, undefined, result),
        (e: unknown) => this.finish(h, e ?? new Error('handler rejected without a reason')),
      )
      // finish() runs user callbacks (onEvent, logger): never let them become an unhandled rejection.
      .catch((e: unknown) => this.d.onError('finish', e));
  }

  /** Record the attempt's end once (handler result, throw, timeout, suspension or shutdown). */
  finish(h: Held, error: unknown, result?: unknown): void {
    if (h.state !== 'running') return;
    h.state = 'finished';
    if (h.timer) clearTimeout(h.timer);
    this.d.holdings.slotFreed();
    const id = h.task.id;
    if (isTaskSuspended(error)) {
      // The handler suspended its task in the database (a compare-and-set on our owner id):
      // the row already holds its next state. Free the slot, write no outcome, stop renewing.
      this.d.holdings.held.delete(id);
      this.d.emit({ kind: 'suspended', id, waitingFor: error.waitingFor });
    } else if (error === this.shutdownError) {
      h.abort.abort(error);
      this.d.holdings.held.delete(id);
    } else {
      if (error === undefined) {
        const stored = this.storable(result);
        if (typeof stored === 'string') this.d.writer.complete({ id, owner: h.owner, result: stored });
        else error = stored;
      }
      if (error !== undefined) this.recordFailure(h, error);
    }
    this.d.onSlotFree();
  }

  /** The task is no longer ours (cancelled, taken over, self-fenced): abort its handler, forget it. */
  lose(h: Held, reason: string, code: 'SEEDCORE_CONFLICT' | 'SEEDCORE_FENCED' = 'SEEDCORE_CONFLICT'): void {
    const hold = this.d.holdings;
    if (h.state === 'buffered') {
      const i = hold.buffer.indexOf(h);
      if (i >= 0) hold.buffer.splice(i, 1);
    }
    const wasRunning = h.state === 'running';
    if (h.state === 'finished' && !hold.held.has(h.task.id)) return;
    h.state = 'finished';
    if (h.timer) clearTimeout(h.timer);
    hold.held.delete(h.task.id);
    h.abort.abort(new SeedCoreError(code, reason));
    if (wasRunning) hold.slotFreed();
    this.d.emit({ kind: 'lost', id: h.task.id, reason });
    this.d.log.warn('task lost', { taskId: h.task.id, reason });
    this.d.onSlotFree();
  }

  /** JSON text of a result, or the permanent failure that keeps it from being stored. */
  private storable(result: unknown): string | SeedCoreError {
    let json: string;
    try {
      json = JSON.stringify(result === undefined ? null : result) ?? 'null';
    } catch (e) {
      return permanentFailure(`handler result is not JSON-serialisable: ${(e as Error).message}`);
    }
    const max = this.d.options.resultMaxBytes;
    const bytes = Buffer.byteLength(json);
    if (bytes > max) return permanentFailure(`result too large: ${bytes} bytes > resultMaxBytes ${max}`);
    // jsonb rejects the \u0000 escape: storing it would fail on every retry.
    if (json.includes('\\u0000')) return permanentFailure('handler result contains \\u0000, which PostgreSQL jsonb cannot store');
    return json;
  }

  private recordFailure(h: Held, error: unknown): void {
    if (isSeedCoreError(error, 'SEEDCORE_TIMEOUT')) h.abort.abort(error);
    // NUL cannot be stored in text columns.
    const message = (error instanceof Error ? error.message : String(error)).replaceAll('\u0000', '').slice(0, DEFAULTS.errorMaxChars);
    const permanent = isPermanentFailure(error);
    this.d.writer.fail({
      id: h.task.id,
      owner: h.owner,
      error: message,
      delayMs: permanent ? 0 : backoffDelay(h.task.attempts, this.d.opts.backoff),
      maxAttempts: permanent ? 0 : this.d.options.maxAttempts,
    });
  }
}
