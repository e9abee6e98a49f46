/**
 * The one poll-until helper of the tests.
 *
 * Prefer an event, a notification or a deferred promise when the code under test offers one;
 * poll only for state that nothing announces (a row's status, another process's log line).
 */

export interface WaitOptions {
  /** How long to wait before failing. Generous by default: the machines tests run on are often loaded. */
  timeoutMs?: number;
  /** Pause between two calls of the condition. */
  everyMs?: number;
  /**
   * Treat a throwing condition as "not yet" and keep polling (a server that is still starting
   * refuses connections). Off by default: an unexpected error fails the wait at once.
   */
  retryErrors?: boolean;
}

type Falsy = false | 0 | '' | null | undefined;

/**
 * Calls `fn` until it returns a truthy value and resolves with that value; rejects after the
 * timeout with an error naming `what` was awaited, for how long, and the last value or error
 * seen. `timeoutMs` may be given as a number (then `everyMs` as the fourth argument) or as
 * part of the options.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | Falsy | Promise<T | Falsy>,
  timeoutOrOptions: number | WaitOptions = {},
  everyMs?: number,
): Promise<T> {
  const o: WaitOptions =
    typeof timeoutOrOptions === 'number' ? { timeoutMs: timeoutOrOptions, ...(everyMs !== undefined ? { everyMs } : {}) } : timeoutOrOptions;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const pause = o.everyMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } = { value: undefined };
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
      last = { value: v };
    } catch (error) {
      if (!o.retryErrors) throw error;
      last = { error };
    }
    if (Date.now() >= deadline) {
      const seen = 'error' in last ? `last error: ${String(last.error)}` : `last value: ${describe(last.value)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen})`);
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
