/**
 * What a worker holds: every task it has a lease on (prefetched, running, or finished with its
 * outcome not yet written), the prefetched ones in claim order, and the running count. Shared
 * by the fetcher (adds), the execution (runs, finishes) and the lease keeper (renews, fences).
 */
import type { Held } from './dispatcher-options.js';

export class Holdings {
  /** Every task this worker holds a lease on, by id: renewed until its outcome is written. */
  readonly held = new Map<string, Held>();
  /** Claimed, not started yet, in claim order. */
  readonly buffer: Held[] = [];
  running = 0;
  private idleWaiters: (() => void)[] = [];

  /** Take the prefetched tasks out (stop, fence): they are no longer held. */
  takeBuffered(): Held[] {
    const list = this.buffer.splice(0);
    for (const h of list) {
      h.state = 'finished';
      this.held.delete(h.task.id);
    }
    return list;
  }

  /** A running handler ended (finished, lost, suspended): one slot is free. */
  slotFreed(): void {
    this.running--;
    if (this.running === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when no handler runs, or after `ms`, whichever is first. */
  whenIdle(ms: number): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }
}
