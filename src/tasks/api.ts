/**
 * The tasks API as exposed on the SeedCore object: the Coordinator plus retention (pruning
 * ended tasks and durable-task events), bound to one database.
 */
import { TaskCoordinator } from './coordinator.js';
import { pruneTaskEvents, pruneTasks, type PruneOptions } from './retention.js';

export class TasksApi extends TaskCoordinator {
  /**
   * Delete ended tasks (by default `completed`) that ended more than `olderThanSeconds` ago, in
   * batches; tasks linked in the graph or by dependency edges are kept. `seedcore tasks prune`.
   */
  prune(options: PruneOptions): Promise<{ deleted: number; batches: number }> {
    return pruneTasks(this.db, options);
  }

  /**
   * Delete durable-task events emitted more than `olderThanSeconds` ago; a task that awaits a
   * pruned event's name afterwards waits for a new emit of it. `seedcore tasks prune-events`.
   */
  pruneEvents(options: { olderThanSeconds: number }): Promise<{ deleted: number }> {
    return pruneTaskEvents(this.db, options);
  }
}
