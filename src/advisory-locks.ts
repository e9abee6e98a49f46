/**
 * Every PostgreSQL advisory-lock key SeedCore takes, with what it serialises. Choose a new key
 * against this list; test/schema-lock-keys.test.ts checks that the migrations and the code take
 * no other key and that docs/architecture.md lists them all.
 *
 * The code takes its keys from here. The stored functions and triggers of the migrations carry
 * theirs as literals (an applied migration never changes); they are listed here too, by the
 * migration that takes them.
 *
 * All are transaction-scoped (`pg_advisory_xact_lock` / `pg_try_advisory_xact_lock`) except the
 * test template's session lock. On PGlite (one session) they exclude nobody, so no guarantee
 * rests on them alone.
 */
export const ADVISORY_LOCKS = {
  /** Epoch rotation, `set_current_epoch` (migration 012). The original schema's key, kept. */
  epochRotation: 42,
  /** Concurrent `migrate` runs (src/migrate/runner.ts): the later one finds the work done. */
  migrate: 727_361_001,
  /** Building one test template database per set of migration checksums (test/helpers/db.ts, session lock). */
  testTemplate: 727_361_002,
  /** The insert NOTIFY trigger (migration 006, try-lock): one inserting transaction notifies at a time. */
  insertNotify: 727_361_003,
  /** One rebuild of the ANN index at a time (src/graph/ann-index.ts); automatic rebuilds skip when busy. */
  annReindex: 727_361_004,
  /** First key of (key, hashtext(event name)): a durable event's waiter and emitter (migration 018). */
  durableEvent: 727_361_018,
  /** First key of (key, hashtext(parent id)): a parent awaiting its children and a child ending (migration 018). */
  durableChildren: 727_361_019,
  /** One registry expiry round per interval across the cluster (src/registry/reconciler.ts, try-lock). */
  registryReconciler: 727_361_042,
  /** One task maintenance pass (recovery, expiry, healing) at a time (src/tasks/maintenance.ts, try-lock). */
  taskMaintenance: 727_361_101,
  /** One schedule evaluation at a time (src/tasks/maintenance.ts, try-lock); each slot fires once anyway. */
  schedules: 727_361_102,
  /** First key of (key, hashtext(subject ‖ predicate)): writers of one fact group, `facts_lock_group` (migration 019). */
  factGroup: 19_019,
} as const;

export type AdvisoryLockName = keyof typeof ADVISORY_LOCKS;
