/**
 * Batched outcome writing. Handlers finish one by one; their outcomes are queued and written
 * set-wise: everything that finished while the previous write was in flight goes in the next
 * statement, so under load one statement carries hundreds of rows and when idle a single
 * outcome is written at once (no timer to wait for).
 */
import type { Db, Queryable } from '../db/types.js';
import { completeTasks, failTasks, type Completion, type Failure } from './completion.js';
import { DEFAULTS } from './defaults.js';

export type WrittenOutcome = { kind: 'completed' } | { kind: 'failed'; error: string; final: boolean } | { kind: 'lost' };

export interface OutcomeWriterHooks {
  onWritten(id: string, outcome: WrittenOutcome): void;
  onError(where: string, error: unknown): void;
  /** Runs in the failing transaction for tasks that ended `failed`. */
  afterFail(tx: Queryable, ids: string[]): Promise<unknown>;
  /**
   * Whether the worker still holds the task's lease by its own clock (before its self-fence
   * deadline, not lost). An outcome is retried exactly as long as this holds.
   */
  stillOurs(id: string): boolean;
}

export class OutcomeWriter {
  private completions: Completion[] = [];
  private failures: Failure[] = [];
  /** Write loops in flight: up to `maxWriters`, so a new batch need not wait for the previous one's round trip. */
  private readonly writers = new Set<Promise<void>>();
  private scheduled = false;

  constructor(
    private readonly db: Db,
    private readonly hooks: OutcomeWriterHooks,
    private readonly maxWriters: number = DEFAULTS.outcomeWriters,
  ) {}

  complete(c: Completion): void {
    this.completions.push(c);
    this.schedule();
  }

  fail(f: Failure): void {
    this.failures.push(f);
    this.schedule();
  }

  private get pending(): boolean {
    return this.completions.length > 0 || this.failures.length > 0;
  }

  /** Resolves once every queued outcome has been written (or given up on). */
  async drain(): Promise<void> {
    while (this.writers.size > 0 || this.scheduled || this.pending) {
      if (this.writers.size > 0) await Promise.all(this.writers);
      else if (this.pending) await this.startWriter();
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.writers.size >= this.maxWriters) return;
    this.scheduled = true;
    // setImmediate: outcomes of handlers that finish in the same turn share one statement.
    setImmediate(() => {
      this.scheduled = false;
      if (this.pending && this.writers.size < this.maxWriters) void this.startWriter();
    });
  }

  private startWriter(): Promise<void> {
    const run = async (): Promise<void> => {
      while (this.pending) {
        const c = this.completions.splice(0, DEFAULTS.outcomeBatch);
        const f = this.failures.splice(0, DEFAULTS.outcomeBatch);
        if (c.length > 0) await this.persist('complete', (b) => this.writeCompletions(b), c);
        if (f.length > 0) await this.persist('fail', (b) => this.writeFailures(b), f);
      }
    };
    const p: Promise<void> = run().finally(() => {
      this.writers.delete(p);
      if (this.pending) this.schedule();
    });
    this.writers.add(p);
    return p;
  }

  /**
   * Write until it lands or the lease is certainly gone. EVERY error is retried, with backoff
   * (DEFAULTS.outcomeRetryBaseMs doubling to outcomeRetryCapMs): connection errors (server
   * restart, network, pooler), serialization failures and deadlocks, statement timeouts,
   * prepared-statement errors behind a pooler, and anything else, since a handler's success must
   * never become a failure because one write did not land. The lease keeper keeps renewing
   * these tasks meanwhile (they stay held until written), so nobody else may run them. A write
   * is given up only for tasks that are no longer ours by the worker's own clock (self-fenced,
   * lost, cancelled): those are reported `lost` and may run again elsewhere. Outcomes that
   * cannot succeed on any retry (a result jsonb cannot store) are turned into permanent failures
   * by the execution before they get here.
   */
  private async persist<T extends { id: string }>(where: string, write: (batch: T[]) => Promise<void>, batch: readonly T[]): Promise<void> {
    let pending = [...batch];
    for (let attempt = 0; ; attempt++) {
      const gone = pending.filter((x) => !this.hooks.stillOurs(x.id));
      if (gone.length > 0) {
        for (const x of gone) this.hooks.onWritten(x.id, { kind: 'lost' });
        pending = pending.filter((x) => this.hooks.stillOurs(x.id));
      }
      if (pending.length === 0) return;
      try {
        return await write(pending);
      } catch (e) {
        this.hooks.onError(where, e);
        await new Promise((r) => setTimeout(r, Math.min(DEFAULTS.outcomeRetryCapMs, DEFAULTS.outcomeRetryBaseMs * 2 ** attempt)));
      }
    }
  }

  private async writeCompletions(batch: Completion[]): Promise<void> {
    // One statement: the compare-and-set and the release of dependents (complete_tasks).
    const written = await completeTasks(this.db, batch);
    for (const c of batch) this.hooks.onWritten(c.id, written.has(c.id) ? { kind: 'completed' } : { kind: 'lost' });
  }

  private async writeFailures(batch: Failure[]): Promise<void> {
    const rows = await this.db.transaction(async (tx) => {
      const r = await failTasks(tx, batch);
      const failed = r.filter((x) => x.status === 'failed').map((x) => x.id);
      if (failed.length > 0) await this.hooks.afterFail(tx, failed);
      return r;
    });
    const byId = new Map(rows.map((r) => [r.id, r.status]));
    for (const f of batch) {
      const status = byId.get(f.id);
      this.hooks.onWritten(f.id, status === undefined ? { kind: 'lost' } : { kind: 'failed', error: f.error, final: status === 'failed' });
    }
  }
}
