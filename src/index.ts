// The public surface of the `seedcore` package. Internals are not exported.
export { openSeedCore, type OpenSeedCoreOptions, type SeedCore } from './seedcore.js';
export {
  connect,
  DEFAULT_DATA_DIR,
  PGliteDb,
  PostgresDb,
  type ConnectOptions,
  type Db,
  type Queryable,
  type QueryResult,
  type Tx,
  type BackendKind,
} from './db/index.js';
export { ERROR_CODES, SeedCoreError, isSeedCoreError, type SeedCoreErrorCode } from './errors.js';
export { migrate, migrationStatus, type MigrateOptions, type MigrateResult, type MigrationStatus } from './migrate/runner.js';
export {
  TaskCoordinator,
  Dispatcher,
  builtinHandlers,
  backoffDelay,
  TASK_STATUSES,
  type BackoffOptions,
  type DispatcherEvent,
  type DispatcherOptions,
  type HandlerMap,
  type ListTasksOptions,
  type SubmitOptions,
  type SubmitTaskInput,
  type TaskContext,
  type TaskFacts,
  type TaskHandler,
  type TaskLogger,
  type TaskPage,
  type TaskRecord,
  type TaskRow,
  type TaskStats,
  type TaskStatus,
  type FactRef,
} from './tasks/index.js';
