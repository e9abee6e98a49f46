/**
 * Every default of the dispatcher in one place, with the reason for each number. Options a
 * user can set are named as in DispatcherOptions; the rest are internal pacing constants.
 */
export const DEFAULTS = {
  /** Handlers running at once: enough to hide database round trips for I/O-bound handlers without flooding a small pool. */
  concurrency: 8,
  /** Rows claimed ahead of free slots = concurrency (set at resolution): a slot that frees never waits for a claim round trip. */
  prefetchPerSlot: 1,
  /** Lease length: long enough that a GC pause or a slow database never loses a healthy worker's task, short enough that a dead worker's tasks resume within half a minute. */
  leaseSeconds: 30,
  /** Lease renewal interval = leaseSeconds × this, capped by heartbeatMaxSeconds: three renewals per lease, so one lost renewal never risks the lease. */
  heartbeatLeaseFraction: 1 / 3,
  /** Cap of the renewal interval: it is also how soon a cancel reaches a handler when notifications do not arrive. */
  heartbeatMaxSeconds: 5,
  /** Executions per task: one retry for a transient fault plus one for bad luck; more hides bugs. */
  maxAttempts: 3,
  /** Poll interval besides notifications: finds run_after tasks and missed wake-ups within a second. */
  pollIntervalMs: 1000,
  /** Poll interval when notifications do not arrive (transaction-mode pooler, standby): pickup within a quarter second, one cheap claim per worker per tick. */
  pollWithoutNotificationsMs: 250,
  /** Maintenance pass interval = leaseSeconds × this (in ms: lease·500 = half a lease), clamped below, so an expired lease is found within half a lease… */
  recoveryLeaseFraction: 0.5,
  /** …but at least this often (a dead worker's tasks resume within 5 s of their takeover time)… */
  recoveryMaxIntervalMs: 5000,
  /** …and never more often than this (a pass is a few index scans). */
  recoveryMinIntervalMs: 100,
  /** How often the served queues that have a concurrency limit are re-read: a new limit takes effect within 5 s. */
  limitsRefreshMs: 5000,
  /** Cron schedules are evaluated every second: slots are minutes, so a fire is at most 1 s late. */
  scheduleIntervalMs: 1000,
  /** Priority aging: waiting 5 min raises a task one level, so a low task competes with critical ones after 15 min. */
  agingSeconds: 300,
  /** Largest stored result (JSON bytes): a bigger result belongs in a fact or a file, not a task row. */
  resultMaxBytes: 1_048_576,
  /** Stored error text is cut to this many characters (a stack trace fits; a dumped payload does not). */
  errorMaxChars: 10_000,
  /** stop(): how long running handlers may finish before they are interrupted. */
  stopGraceMs: 10_000,
  /** Claims in flight at once: the next batch travels while the database works on the current one; a third buys nothing. */
  claimsInFlight: 2,
  /** After a failed claim (database away), wait this long before the next one: no spinning, quick resumption. */
  claimRetryMs: 500,
  /** A follow-up claim this long after a wake-up: inserters skip their NOTIFY while another is in flight, so a task may commit just after the one that woke us. */
  followUpMs: 20,
  /** Rows one maintenance statement moves (recovery, expiry): bounded transactions, the next pass takes the rest. */
  maintenanceBatch: 500,
  /** A maintenance transaction left idle this long (its process cut off mid-pass) is ended by the server, freeing the pass's lock for the others. */
  maintenanceIdleTimeoutMs: 5000,
  /** Rows one healing statement looks at. */
  healBatch: 1000,
  /** Outcomes per statement: hundreds of rows per round trip under load, and a statement that stays well below a second. */
  outcomeBatch: 1000,
  /** Outcome statements in flight at once: a new batch need not wait for the previous round trip. */
  outcomeWriters: 2,
  /** Retry delay of an outcome write: 100 ms, doubling up to 2 s, until it lands or the lease is certainly gone. */
  outcomeRetryBaseMs: 100,
  outcomeRetryCapMs: 2000,
  /** Hand-back on shutdown: up to 4 tries, 250 ms more each time; afterwards the lease expires and any worker recovers the task (shutdown never hangs on it). */
  handBackAttempts: 4,
  handBackStepMs: 250,
  /**
   * Self-fence margin = leaseSeconds × this, capped: the worker gives its tasks up this long
   * before the earliest moment another worker may take them over; it covers a handler's time
   * to honour ctx.signal and any difference in clock rates.
   */
  fenceMarginLeaseFraction: 0.1,
  fenceMarginMaxMs: 5000,
  /** How often the self-fence deadline is checked (at most a quarter of the margin): independent of renewals, which may hang on a dropped route. */
  fenceCheckMs: 250,
  /** Retry delays after a failed execution. */
  backoff: {
    /** Delay before the 2nd execution. */
    baseMs: 1000,
    /** Upper bound of any delay: 5 minutes. */
    capMs: 300_000,
    /** ±20 %: workers that failed together do not retry together. */
    jitter: 0.2,
  },
  /** Queues served when none are named. */
  queues: ['default'] as readonly string[],
} as const;
