/** The facts API bound to one database, as exposed on the SeedCore object. */
import type { Db } from '../db/types.js';
import type { TaskFacts } from '../tasks/types.js';
import { listFactConflicts, listPredicatePolicies, resolveFactConflict, setPredicatePolicy, type PredicatePolicy } from './conflicts.js';
import { getFactProvenance } from './provenance.js';
import { addFact, deleteFact, factVersions, getFact, invalidateFact, updateFact } from './store.js';
import { searchFacts } from './search.js';
import { createTaskFacts } from './task-facts.js';
import type {
  Fact,
  FactConflict,
  FactConflictListOptions,
  FactConflictPage,
  FactConflictResolution,
  FactPatch,
  FactPolicy,
  FactProvenance,
  FactSearchOptions,
  FactSearchPage,
  FactVersion,
  NewFact,
} from './types.js';

export interface FactsApi {
  add(fact: NewFact): Promise<Fact>;
  /** By full id or unique id prefix (SEEDCORE_AMBIGUOUS_ID when several match). */
  get(idOrPrefix: string): Promise<Fact>;
  update(idOrPrefix: string, patch: FactPatch): Promise<Fact>;
  /** Mark a fact as no longer valid (it stays readable, with the reason). */
  invalidate(idOrPrefix: string, options: { reason: string; at?: string | Date }): Promise<Fact>;
  delete(idOrPrefix: string): Promise<Fact>;
  search(options?: FactSearchOptions): Promise<FactSearchPage>;
  /** Earlier versions, oldest first. */
  versions(idOrPrefix: string): Promise<FactVersion[]>;
  /** Sources, derives_from chain (bounded depth), conflicts, in one call. */
  provenance(idOrPrefix: string, options?: { depth?: number }): Promise<FactProvenance>;
  conflicts(options?: FactConflictListOptions): Promise<FactConflictPage>;
  resolveConflict(conflictId: number | string, how: FactConflictResolution): Promise<FactConflict>;
  setPolicy(predicate: string, policy: FactPolicy): Promise<PredicatePolicy>;
  policies(): Promise<PredicatePolicy[]>;
  /** Facts access for a handler running task `taskId` (records task↔fact edges and sources). */
  forTask(taskId: string): TaskFacts;
}

export function createFactsApi(db: Db): FactsApi {
  return {
    add: (fact) => addFact(db, fact),
    get: (id) => getFact(db, id),
    update: (id, patch) => updateFact(db, id, patch),
    invalidate: (id, options) => invalidateFact(db, id, options),
    delete: (id) => deleteFact(db, id),
    // Options are checked against the schemas of GET /api/facts and /api/facts/conflicts.
    search: async (options) => searchFacts(db, options),
    versions: (id) => factVersions(db, id),
    provenance: (id, options) => getFactProvenance(db, id, options),
    conflicts: async (options) => listFactConflicts(db, options),
    resolveConflict: (id, how) => resolveFactConflict(db, id, how),
    setPolicy: (predicate, policy) => setPredicatePolicy(db, predicate, policy),
    policies: () => listPredicatePolicies(db),
    forTask: (taskId) => createTaskFacts(db, taskId),
  };
}
