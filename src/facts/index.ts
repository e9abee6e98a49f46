// Facts knowledge base: CRUD, full-text search and task <-> fact edges.
export type { Fact, NewFact, FactPatch, FactSearchOptions, FactSearchHit, FactSearchPage } from './types.js';
export { addFact, getFact, updateFact, deleteFact, resolveFactId, getFactsByIds } from './store.js';
export { searchFacts, searchAllFacts, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, DEFAULT_MAX_CANDIDATES } from './search.js';
export { createTaskFacts } from './task-facts.js';
export { createFactsApi, type FactsApi } from './api.js';
