/** Retry delays: exponential with a cap and optional jitter (defaults in DEFAULTS.backoff). */
import { DEFAULTS } from './defaults.js';

export interface BackoffOptions {
  /** Delay before the 2nd execution. @defaultValue 1000 */
  baseMs?: number;
  /** Upper bound of any delay. @defaultValue 300000 (5 min) */
  capMs?: number;
  /**
   * Relative jitter: the delay is scaled by a random factor in [1 − jitter, 1 + jitter] (then
   * capped). 0 gives exact delays. @defaultValue 0.2
   */
  jitter?: number;
  /** Source of randomness in [0, 1). @defaultValue Math.random */
  random?: () => number;
}

/** Delay (ms) after the `attempts`-th execution failed: base · 2^(attempts − 1), jittered, capped. */
export function backoffDelay(attempts: number, o: BackoffOptions = {}): number {
  const base = o.baseMs ?? DEFAULTS.backoff.baseMs;
  const cap = o.capMs ?? DEFAULTS.backoff.capMs;
  const jitter = o.jitter ?? DEFAULTS.backoff.jitter;
  const raw = Math.min(cap, base * 2 ** Math.max(0, attempts - 1));
  if (jitter <= 0) return raw;
  const r = (o.random ?? Math.random)();
  return Math.max(0, Math.min(cap, raw * (1 - jitter + 2 * jitter * r)));
}
