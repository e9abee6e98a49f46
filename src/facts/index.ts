// Facts knowledge base: CRUD, versions, provenance, conflicts, full-text search and task <-> fact edges.
export type {
  Fact,
  NewFact,
  FactPatch,
  FactClaim,
  FactSearchOptions,
  FactSearchHit,
  FactSearchPage,
  FactSource,
  FactSourceInput,
  FactSourceKind,
  FactVersion,
  FactConflict,
  FactConflictListOptions,
  FactConflictPage,
  FactConflictResolution,
  FactPolicy,
  FactProvenance,
  ProvenanceStep,
} from './types.js';
export { FACT_POLICIES, FACT_SOURCE_KINDS } from './types.js';
export { addFact, getFact, updateFact, deleteFact, invalidateFact, factVersions, resolveFactId, getFactsByIds } from './store.js';
export { searchFacts, searchAllFacts, snippetToText, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, DEFAULT_MAX_CANDIDATES } from './search.js';
export { getFactProvenance, DEFAULT_PROVENANCE_DEPTH, MAX_PROVENANCE_DEPTH } from './provenance.js';
export { listFactConflicts, getFactConflict, resolveFactConflict, setPredicatePolicy, listPredicatePolicies, type PredicatePolicy } from './conflicts.js';
export { createTaskFacts } from './task-facts.js';
export { createFactsApi, type FactsApi } from './api.js';
