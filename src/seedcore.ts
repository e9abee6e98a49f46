import { createAgentsApi, createArtifactsApi, createMemoryApi, type AgentsApi, type ArtifactsApi, type MemoryApi } from './agents/api.js';
import { connect, type ConnectOptions, type Db } from './db/index.js';
import { migrateUnlessStandby } from './db/standby.js';
import { createEmbeddingsApi, createGraphApi, type EmbeddingsApi, type GraphApi } from './graph/index.js';
import { TasksApi } from './tasks/api.js';
import type { Dispatcher } from './tasks/dispatcher.js';
import { createFactsApi, type FactsApi } from './facts/index.js';
import { createRegistryApi, type RegistryApi } from './registry/index.js';
import { listQueues, setQueueLimit, type QueuePage } from './tasks/queues.js';
import { TaskSchedules } from './tasks/schedules.js';
import { createWorker, type Worker, type WorkerOptions } from './worker/compose.js';

export interface OpenSeedCoreOptions extends ConnectOptions {
  /** Apply pending migrations on open. @defaultValue true */
  migrate?: boolean;
  /** Use this already-open database instead of connecting (SeedCore will not close it). */
  db?: Db;
}

/** One object with every SeedCore API, bound to one database. */
export interface SeedCore {
  readonly db: Db;
  /**
   * Tasks: submit, get, list, cancel, retry, stats, durable views, emitEvent (durable-task
   * events), and retention (prune, pruneEvents).
   */
  readonly tasks: TasksApi;
  /** The knowledge graph: nodes, edges, traversal, FastRP embedding, RAG retrieval, export. */
  readonly graph: GraphApi;
  /** Node embeddings: upsert/get/delete, kNN, ANN index maintenance. */
  readonly embeddings: EmbeddingsApi;
  /** The facts knowledge base: add/get/update/delete, full-text search, task-bound access. */
  readonly facts: FactsApi;
  /** The runtime registry: clients (membership with fencing), lookup, epochs, expiry, reconciler. */
  readonly registry: RegistryApi;
  /** Recurring tasks (cron schedules, migration 013): set, list, get, enable/disable, delete. */
  readonly schedules: TaskSchedules;
  /** Queues: waiting/running counts and per-queue running-task limits (null removes a limit, 0 pauses). */
  readonly queues: QueuesApi;
  /** Organs (list, get, liveProviders), capability discovery, unroutable tasks, agent performance stats. */
  readonly agents: AgentsApi;
  /** Versioned agent memory: get, put (compare-and-set with expectedVersion), list, versions. */
  readonly memory: MemoryApi;
  /** Artifacts tasks produced: add, get, list. */
  readonly artifacts: ArtifactsApi;
  /**
   * A worker (a Dispatcher) bound to this database; call start(), and stop() before close()
   * (close() also stops it). With `organ` (or `registry`) it joins the runtime registry on
   * start and, for an organ, registers the organ and what it provides (src/worker/compose.ts).
   */
  createDispatcher(options: WorkerOptions): Worker;
  /** Close the database (unless it was passed in) and stop background work started through this object. */
  close(): Promise<void>;
}

export interface QueuesApi {
  /** Every queue with waiting or running tasks, or a limit: `{ items, nextCursor: null }`, the body of GET /api/queues. */
  list(): Promise<QueuePage>;
  /** At most `maxRunning` running tasks of `queue` across the cluster; 0 pauses it, null removes the limit. */
  setLimit(queue: string, maxRunning: number | null): Promise<void>;
}

export async function openSeedCore(options: OpenSeedCoreOptions = {}): Promise<SeedCore> {
  const db = options.db ?? (await connect(options));
  const ownsDb = options.db === undefined;
  try {
    // A standby cannot migrate; it replays the primary's (and must already be current).
    if (options.migrate !== false) await migrateUnlessStandby(db);
  } catch (e) {
    if (ownsDb) await db.close();
    throw e;
  }
  let closed = false;
  const dispatchers = new Set<Dispatcher>();
  const registry = createRegistryApi(db);
  return {
    db,
    tasks: new TasksApi(db),
    graph: createGraphApi(db),
    embeddings: createEmbeddingsApi(db),
    facts: createFactsApi(db),
    registry,
    schedules: new TaskSchedules(db),
    queues: { list: () => listQueues(db), setLimit: (queue, maxRunning) => setQueueLimit(db, queue, maxRunning) },
    agents: createAgentsApi(db),
    memory: createMemoryApi(db),
    artifacts: createArtifactsApi(db),
    createDispatcher(workerOptions: WorkerOptions): Worker {
      const d = createWorker(db, workerOptions);
      dispatchers.add(d);
      return d;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...dispatchers].map((d) => d.stop({ graceMs: 0 })));
      await registry.shutdown();
      if (ownsDb) await db.close();
    },
  };
}
