/**
 * The public surface of the `seedcore` package, in one style: `openSeedCore()` and the
 * `SeedCore` facade (every database capability as a method bound to one database), the types
 * a user of the facade needs, and the few building blocks that have no facade form: opening a
 * database (`connect`, the two `Db` backends), migrations, the error family, workers, the
 * HTTP server and service, the built-in handlers, constants, the pure cron and FastRP
 * functions and the durable-task suspension check. Internal modules keep their own exports
 * for the CLI, the server and the tests; test/public-surface.test.ts pins this list.
 */
export { openSeedCore, type OpenSeedCoreOptions, type QueuesApi, type SeedCore } from './seedcore.js';
export type { TasksApi } from './tasks/api.js';
export type { AgentsApi, ArtifactsApi, MemoryApi, OrgansApi } from './agents/api.js';
export type { FactsApi } from './facts/api.js';
export type { GraphApi, EmbeddingsApi } from './graph/index.js';
export type { RegistryApi } from './registry/api.js';

// Opening a database (SeedCore connects itself unless given `db`).
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

// Workers (SeedCore.createDispatcher composes the same), handlers and the service.
export { Worker, createWorker, type WorkerOptions, type WorkerRegistryOptions } from './worker/compose.js';
export { builtinHandlers } from './handlers.js';
export { buildServer, type ServerOptions, type SeedCoreServer } from './server/app.js';
export { startService, type ServiceOptions, type RunningService } from './server/service.js';
export type { DemoSummary } from './demo/load.js';

// Tasks: the types of SeedCore.tasks, .schedules, .queues and of handlers.
export type { OrganOptions } from './tasks/dispatcher-options.js';
export {
  TASK_STATUSES,
  TASK_PRIORITIES,
  type TaskCoordinator,
  type Dispatcher,
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
  type TaskPriority,
  type FactRef,
  type TaskSchedules,
  type ScheduleInput,
  type ScheduleRow,
  type SchedulePage,
  type QueueInfo,
  type QueuePage,
  type PruneOptions,
} from './tasks/index.js';
// Cron expressions, pure: parse one and compute its slots (SeedCore.schedules stores them).
export { parseCron, nextSlot, latestSlot, type CronSpec } from './tasks/cron.js';
// Durable tasks: ctx.step / sleepFor / awaitEvent / spawn / awaitTasks suspend by throwing; a
// handler that catches errors around them rethrows when isTaskSuspended(e).
export { isTaskSuspended, type TaskSuspended } from './tasks/suspend.js';
export type { SpawnOptions } from './tasks/types.js';
export type { DurableView, TaskRun } from './tasks/durable/inspect.js';

// Knowledge graph and embeddings: the types of SeedCore.graph and .embeddings; fastRP is the
// in-memory algorithm on a graph of the caller's own.
export {
  fastRP,
  NODE_TYPES,
  EDGE_TYPES,
  EMBEDDING_DIM,
  type FastRPOptions,
  type FastRPGraph,
  type NodeType,
  type EdgeTypeDef,
  type GraphNode,
  type NodeRef,
  type NodeAttributes,
  type EdgeEndpoint,
  type GraphEdge,
  type GraphCounts,
  type Neighbor,
  type NeighborOptions,
  type Embedding,
  type EmbeddingInput,
  type KnnQuery,
  type KnnOptions,
  type KnnResult,
  type IndexInfo,
  type ReindexOptions,
  type ReindexResult,
  type EmbedOptions,
  type EmbedResult,
  type EmbedAllOptions,
  type EmbedAllResult,
  type RagParams,
  type RagResult,
  type DglExportResult,
  type ExportOptions,
} from './graph/index.js';

// Facts: the types of SeedCore.facts.
export {
  FACT_POLICIES,
  DEFAULT_MAX_CANDIDATES,
  type Fact,
  type FactVersion,
  type FactConflict,
  type FactConflictListOptions,
  type FactConflictPage,
  type FactConflictResolution,
  type FactPolicy,
  type FactProvenance,
  type FactSource,
  type NewFact,
  type FactPatch,
  type FactSearchOptions,
  type FactSearchHit,
  type FactSearchPage,
  type PredicatePolicy,
} from './facts/index.js';

// Runtime registry: the types of SeedCore.registry and of its clients.
export type {
  RegistryClient,
  RegistryListOptions,
  RegistryPage,
  RegistryClientOptions,
  RegistryClientEvents,
  RegisteredEvent,
  FencedEvent,
  InstanceInfo,
  InstanceStatus,
  ExpireResult,
  ReconcileResult,
  ReconcilerOptions,
  WorkerMembership,
} from './registry/index.js';

// Agents, memory and artifacts: the types of SeedCore.agents, .memory and .artifacts.
export type { ListOrgansOptions, LiveProvider, OrganInfo, OrganPage } from './agents/organs.js';
export type { CapabilityInfo, CapabilityProvider, Unroutable } from './agents/routing.js';
export type { MemoryCell, MemoryPage, PutMemoryOptions, TaskMemory } from './agents/memory.js';
export type { Artifact, ArtifactInput, ArtifactPage, TaskArtifacts } from './agents/artifacts.js';
export type { AgentStat, AgentStats, AgentStatsOptions, StatDimension } from './agents/stats.js';
