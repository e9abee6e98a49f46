// The public surface of the `seedcore` package. Internals are not exported.
export { openSeedCore, type OpenSeedCoreOptions, type QueuesApi, type SeedCore } from './seedcore.js';
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
// One composition of a worker (CLI, serve and SeedCore.createDispatcher), and organs.
export { Worker, createWorker, type WorkerOptions, type WorkerRegistryOptions } from './worker/compose.js';
export { getOrgan, liveProviders, listOrgans, type ListOrgansOptions, type LiveProvider, type OrganInfo, type OrganPage } from './agents/organs.js';
export { listCapabilities, unroutableTaskIds, type CapabilityInfo, type CapabilityProvider, type Unroutable } from './agents/routing.js';
export type { OrganOptions } from './tasks/dispatcher-options.js';
export {
  TaskCoordinator,
  Dispatcher,
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
export { builtinHandlers } from './handlers.js';
export {
  createGraphApi,
  createEmbeddingsApi,
  graphHandlers,
  fastRP,
  NODE_TYPES,
  EDGE_TYPES,
  EMBEDDING_DIM,
  type GraphApi,
  type EmbeddingsApi,
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
export {
  addFact,
  getFact,
  updateFact,
  deleteFact,
  searchFacts,
  createTaskFacts,
  createFactsApi,
  invalidateFact,
  factVersions,
  getFactProvenance,
  listFactConflicts,
  resolveFactConflict,
  setPredicatePolicy,
  listPredicatePolicies,
  FACT_POLICIES,
  DEFAULT_MAX_CANDIDATES,
  type Fact,
  type FactVersion,
  type FactConflict,
  type FactConflictResolution,
  type FactPolicy,
  type FactProvenance,
  type FactSource,
  type NewFact,
  type FactPatch,
  type FactSearchOptions,
  type FactSearchHit,
  type FactSearchPage,
  type FactsApi,
} from './facts/index.js';
export {
  RegistryClient,
  lookup,
  listActive,
  listInstances,
  currentEpoch,
  rotateEpoch,
  expireInstances,
  reconcileOnce,
  startReconciler,
  attachRegistry,
  joinAsWorker,
  createRegistryApi,
  type RegistryClientOptions,
  type RegistryClientEvents,
  type RegisteredEvent,
  type FencedEvent,
  type InstanceInfo,
  type InstanceStatus,
  type ExpireResult,
  type ReconcileResult,
  type ReconcilerOptions,
  type ClaimingControl,
  type WorkerMembership,
  type RegistryApi,
} from './registry/index.js';
export { buildServer, type ServerOptions, type SeedCoreServer } from './server/app.js';
export { startService, type ServiceOptions, type RunningService } from './server/service.js';
export { isEmptyDatabase, loadDemoData, type DemoSummary } from './demo/load.js';
// Durable tasks: ctx.step / sleepFor / awaitEvent / spawn / awaitTasks (TaskContext), events from outside.
export { TaskSuspended, isTaskSuspended } from './tasks/suspend.js';
export { emitTaskEvent } from './tasks/durable/events.js';
export { pruneTaskEvents } from './tasks/retention.js';
export type { SpawnOptions } from './tasks/types.js';
export type { DurableView, TaskRun } from './tasks/durable/inspect.js';
// Agent memory (ctx.memory), artifacts (ctx.artifacts) and agent performance.
export {
  getMemory,
  putMemory,
  listMemory,
  listMemoryVersions,
  type MemoryCell,
  type MemoryPage,
  type PutMemoryOptions,
  type TaskMemory,
} from './agents/memory.js';
export { addArtifact, getArtifact, listArtifacts, type Artifact, type ArtifactInput, type ArtifactPage, type TaskArtifacts } from './agents/artifacts.js';
export { agentStats, type AgentStat, type AgentStats, type AgentStatsOptions, type StatDimension } from './agents/stats.js';
export {
  TaskSchedules,
  ScheduleRunner,
  parseCron,
  nextSlot,
  latestSlot,
  setQueueLimit,
  listQueues,
  pruneTasks,
  parseAge,
  TASK_PRIORITIES,
  type ScheduleInput,
  type ScheduleRow,
  type CronSpec,
  type QueueInfo,
  type PruneOptions,
  type TaskPriority,
} from './tasks/index.js';
