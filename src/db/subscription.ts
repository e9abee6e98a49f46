/**
 * A LISTEN subscription made in the background, for callers whose start must not wait for it.
 *
 * `Db.listen` resolves once LISTEN has been issued, and on the server the listener runs its
 * statements one at a time behind its notification probe: behind a transaction-mode pooler
 * that probe waits its full PROBE_WAIT_MS (2 s) for a NOTIFY that never comes. A worker that
 * awaited its subscriptions in start() would begin claiming only then, although polling
 * finds the work at once. Notifications are only the fast path, so the worker starts without
 * them and they join when they are ready.
 */
import type { Db } from './types.js';

export class BackgroundSubscription {
  private closed = false;
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly pending: Promise<void>;

  /** Starts subscribing at once; `onError` gets a failed subscription (polling still works). */
  constructor(db: Db, channel: string, onNotify: (payload: string) => void, onError: (e: unknown) => void) {
    this.pending = db
      .listen(channel, (payload) => {
        if (!this.closed) onNotify(payload);
      })
      .then(
        async (unsubscribe) => {
          // Closed while LISTEN was on its way: undo it now that there is something to undo.
          if (this.closed) await unsubscribe().catch(() => undefined);
          else this.unsubscribe = unsubscribe;
        },
        (e: unknown) => {
          if (!this.closed) onError(e);
        },
      );
  }

  /** Resolves when the subscription is in place (or failed). */
  ready(): Promise<void> {
    return this.pending;
  }

  /**
   * Stop delivering at once, without waiting for the listener's probe. An established
   * subscription's handler is removed before this resolves, and so is its LISTEN unless a probe
   * is still waiting (then the UNLISTEN follows the probe, or the failed probe closes the
   * connection with every LISTEN on it). One still on its way (its LISTEN waiting behind the
   * probe) is undone when it lands. Its handler already delivers nothing, and closing the
   * database closes the listener and ends a waiting probe.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    if (unsubscribe) await unsubscribe().catch(() => undefined);
  }
}
