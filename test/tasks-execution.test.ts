import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import type { DispatcherEvent } from '../src/tasks/dispatcher.js';
import { TaskSuspended } from '../src/tasks/suspend.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { startDispatcher, taskRow, waitFor } from './helpers/tasks.js';

for (const kind of BACKENDS) {
  describe(`task execution (${kind})`, () => {
    let t: TestDb;
    let c: TaskCoordinator;
    before(async () => {
      t = await freshDb(kind);
      c = new TaskCoordinator(t.db);
    });
    after(async () => t.cleanup());

    it('a handler that throws TaskSuspended frees its slot and writes no outcome', async () => {
      const [sus, next] = await c.submitMany([{ type: 'suspends', priority: 'high' }, { type: 'plain' }]);
      const events: DispatcherEvent[] = [];
      let suspendedRuns = 0;
      const d = await startDispatcher(t.db, {
        concurrency: 1,
        prefetch: 0,
        onEvent: (e) => events.push(e),
        handlers: {
          suspends: async (task, ctx) => {
            suspendedRuns++;
            // What a durable handler does: park the row (compare-and-set on the owner), then throw.
            await ctx.db.query(
              `UPDATE tasks SET status = 'created', owner_id = NULL, locked_by = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE id = $1 AND owner_id = $2 AND status = 'running'`,
              [task.id, ctx.ownerId],
            );
            throw new TaskSuspended(task.id, 'sleep');
          },
          plain: async () => 'ran',
        },
      });
      try {
        // Positive control: with one slot, the second task runs only if the suspended one freed it.
        await waitFor('the second task completed', async () => (await taskRow(t.db, next!.id)).status === 'completed');
      } finally {
        await d.stop({ graceMs: 0 });
      }
      const row = await taskRow(t.db, sus!.id);
      assert.equal(row.status, 'created', 'the state the handler wrote is kept');
      assert.equal(suspendedRuns, 1);
      assert.ok(events.some((e) => e.kind === 'suspended' && e.id === sus!.id && e.waitingFor === 'sleep'));
      assert.ok(!events.some((e) => (e.kind === 'failed' || e.kind === 'lost') && e.id === sus!.id), 'not a failure, not lost');
    });
  });
}
