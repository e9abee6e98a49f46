/**
 * The agents, memory and artifacts APIs bound to one database, as exposed on the SeedCore
 * object (SeedCore.agents, SeedCore.memory, SeedCore.artifacts). Each method is a thin call
 * into the module that does the work and answers what the matching HTTP route answers.
 */
import type { Db } from '../db/types.js';
import { addArtifact, getArtifact, listArtifacts, type Artifact, type ArtifactInput, type ArtifactPage } from './artifacts.js';
import { getMemory, listMemory, listMemoryVersions, putMemory, type MemoryCell, type MemoryPage, type PutMemoryOptions } from './memory.js';
import { getOrgan, listOrgans, liveProviders, type ListOrgansOptions, type LiveProvider, type OrganInfo, type OrganPage } from './organs.js';
import { listCapabilities, unroutableTaskIds, type CapabilityInfo } from './routing.js';
import { agentStats, type AgentStats, type AgentStatsOptions } from './stats.js';

/** Registered organs (organ_registry) and the live instances serving them. */
export interface OrgansApi {
  /** Organs by id, one page at a time: `{ items, nextCursor }`, the body of GET /api/organs. */
  list(options?: ListOrgansOptions): Promise<OrganPage>;
  /** One registered organ; SEEDCORE_NOT_FOUND when there is none (GET /api/organs/:id). */
  get(organId: string): Promise<OrganInfo>;
  /**
   * Every (capability, organ, alive instance) of a live organ, optionally of one capability,
   * ordered by capability, organ and instance.
   */
  liveProviders(options?: { capability?: string }): Promise<LiveProvider[]>;
}

/** Organs, capability routing and agent performance. */
export interface AgentsApi {
  readonly organs: OrgansApi;
  /**
   * Every capability node by name, with its live providers (and the tasks each is running)
   * and the number of waiting tasks that require it: the items of GET /api/capabilities.
   */
  capabilities(): Promise<CapabilityInfo[]>;
  /** Ids of the waiting tasks no live organ can serve, oldest due first. @defaultValue limit 100 */
  unroutable(options?: { limit?: number }): Promise<string[]>;
  /**
   * Executions, outcomes, failure rate and p50/p95 duration per organ, agent and capability
   * over a window (default 1 h): the body of GET /api/agents/stats.
   */
  stats(options?: AgentStatsOptions): Promise<AgentStats>;
}

/** Versioned agent memory (memory_cell) outside a handler; inside one, `ctx.memory`. */
export interface MemoryApi {
  /** The latest version of (scope, key), or that `version`; null when there is none. */
  get(scope: string, key: string, options?: { version?: number }): Promise<MemoryCell | null>;
  /**
   * Write the next version. With `expectedVersion` (0: the key must not exist yet) it is a
   * compare-and-set: SEEDCORE_CONFLICT when another version is the latest, and nothing is written.
   * `taskId` records the writing task, `agentIds` the owning agents.
   */
  put(scope: string, key: string, value: unknown, options?: PutMemoryOptions): Promise<MemoryCell>;
  /** The latest version of each key, optionally of one scope and/or key prefix (GET /api/memory). */
  list(options?: { scope?: string; prefix?: string; limit?: number; cursor?: string }): Promise<MemoryPage>;
  /** Every version of (scope, key), newest first. */
  versions(scope: string, key: string, options?: { limit?: number; cursor?: string }): Promise<MemoryPage>;
}

/** Artifacts (where a task's output is, not its bytes) outside a handler; inside one, `ctx.artifacts`. */
export interface ArtifactsApi {
  /** Store an artifact; with `taskId`, also its task__produces__artifact edge, in one transaction. */
  add(artifact: ArtifactInput, options?: { taskId?: string }): Promise<Artifact>;
  /** One artifact by id; SEEDCORE_NOT_FOUND when there is none. */
  get(id: string): Promise<Artifact>;
  /** Newest first: all, those a task produced (`task`) and/or of one `kind` (GET /api/artifacts). */
  list(options?: { task?: string; kind?: string; limit?: number; cursor?: string }): Promise<ArtifactPage>;
}

export function createAgentsApi(db: Db): AgentsApi {
  return {
    organs: {
      list: (options) => listOrgans(db, options),
      get: (organId) => getOrgan(db, organId),
      liveProviders: (options) => liveProviders(db, options),
    },
    capabilities: () => listCapabilities(db),
    unroutable: (options) => unroutableTaskIds(db, options),
    stats: (options) => agentStats(db, options),
  };
}

export function createMemoryApi(db: Db): MemoryApi {
  return {
    get: (scope, key, options) => getMemory(db, scope, key, options),
    put: (scope, key, value, options) => putMemory(db, scope, key, value, options),
    list: (options) => listMemory(db, options),
    versions: (scope, key, options) => listMemoryVersions(db, scope, key, options),
  };
}

export function createArtifactsApi(db: Db): ArtifactsApi {
  return {
    add: (artifact, options) => addArtifact(db, artifact, options),
    get: (id) => getArtifact(db, id),
    list: (options) => listArtifacts(db, options),
  };
}
