/** The facts API bound to one database, as exposed on the SeedCore object. */
import type { Db } from '../db/types.js';
import type { TaskFacts } from '../tasks/types.js';
import { addFact, deleteFact, getFact, updateFact } from './store.js';
import { searchFacts } from './search.js';
import { createTaskFacts } from './task-facts.js';
import type { Fact, FactPatch, FactSearchOptions, FactSearchPage, NewFact } from './types.js';

export interface FactsApi {
  add(fact: NewFact): Promise<Fact>;
  /** By full id or unique id prefix (SEEDCORE_AMBIGUOUS_ID when several match). */
  get(idOrPrefix: string): Promise<Fact>;
  update(idOrPrefix: string, patch: FactPatch): Promise<Fact>;
  delete(idOrPrefix: string): Promise<Fact>;
  search(options?: FactSearchOptions): Promise<FactSearchPage>;
  /** Facts access for a handler running task `taskId` (records task↔fact edges). */
  forTask(taskId: string): TaskFacts;
}

export function createFactsApi(db: Db): FactsApi {
  return {
    add: (fact) => addFact(db, fact),
    get: (id) => getFact(db, id),
    update: (id, patch) => updateFact(db, id, patch),
    delete: (id) => deleteFact(db, id),
    search: (options) => searchFacts(db, options),
    forTask: (taskId) => createTaskFacts(db, taskId),
  };
}
