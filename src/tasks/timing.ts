/**
 * The timing contract between a worker and everyone who may take its tasks over.
 *
 * Takeover (on the DATABASE clock) happens at the earliest of:
 * - lease expiry: `lease_expires_at = now() + leaseSeconds`, set when a claim or renewal
 *   LANDS in the database; the maintenance pass moves the task once that is past;
 * - owner death: a registered worker's instance is dead once its `last_heartbeat` (set when a
 *   registry beat LANDS) is older than `cluster_metadata.liveness_seconds`.
 *
 * Self-fence (on the WORKER's monotonic clock, performance.now()): for each held task the
 * deadline is the moment the last successful claim/renewal of it was SENT + leaseSeconds −
 * margin; for a registered worker also the moment its last accepted beat was SENT + liveness
 * window − the registry's margin. A statement is sent before it lands, so the deadline falls
 * at least `margin` before the earliest takeover whatever the network delay. At the deadline
 * the worker aborts the task's handler (`ctx.signal`, reason `lease unrenewable`), forgets it
 * and any outcome not yet written; it stops claiming as soon as one renewal fails.
 *
 * The renewal interval (heartbeat) must leave room for a renewal before the deadline:
 * heartbeat < leaseSeconds − margin.
 */
import { invalidInput } from '../errors.js';
import { DEFAULTS } from './defaults.js';

/** Renewal interval for a lease: a third of it, at most 5 s. */
export function heartbeatSecondsFor(leaseSeconds: number): number {
  return Math.min(DEFAULTS.heartbeatMaxSeconds, leaseSeconds * DEFAULTS.heartbeatLeaseFraction);
}

/** Self-fence margin (ms) for a lease: a tenth of it, at most 5 s. */
export function fenceMarginMs(leaseSeconds: number): number {
  return Math.min(DEFAULTS.fenceMarginMaxMs, leaseSeconds * 1000 * DEFAULTS.fenceMarginLeaseFraction);
}

/** Throws SEEDCORE_INVALID_INPUT when no renewal could land before the self-fence deadline. */
export function checkTiming(leaseSeconds: number, heartbeatSeconds: number): void {
  const margin = fenceMarginMs(leaseSeconds);
  if (heartbeatSeconds * 1000 >= leaseSeconds * 1000 - margin)
    throw invalidInput(
      `dispatcher: heartbeatSeconds must be shorter than leaseSeconds minus the self-fence margin (${leaseSeconds} s − ${margin / 1000} s); got ${heartbeatSeconds} s`,
      { field: 'heartbeatSeconds' },
    );
}

/** Registry membership as the dispatcher sees it (RegistryClient implements it). */
export interface MembershipClock {
  /** The registry instance id claims are made under. */
  readonly instanceId: string | null;
  /** performance.now() until which the instance is certainly alive in the database's eyes (−Infinity when fenced or closed). */
  readonly trustedUntil: number;
  /** The last heartbeat was accepted (false while the database is unreachable or after fencing). */
  readonly healthy: boolean;
}

/** Monotonic clock of the worker; never the wall clock, which may jump. */
export const monotonicNow = (): number => performance.now();
