/**
 * Handler module for the multi-process tests (`seedcore worker --handlers <this file>`): each
 * execution is journaled in test_executions (task, pid, owner, start, finish) so the test can
 * check on the data that no two live workers ever ran one task at the same time.
 */
import type { Db } from '../../src/db/types.js';
import type { HandlerMap } from '../../src/tasks/types.js';

export default function handlers(db: Db): HandlerMap {
  return {
    journaled: async (task, ctx) => {
      const r = await db.query<{ id: number }>(
        'INSERT INTO test_executions (task_id, pid, owner, started_at) VALUES ($1, $2, $3, clock_timestamp()) RETURNING id',
        [task.id, process.pid, ctx.ownerId],
      );
      const ms = typeof task.params.ms === 'number' ? task.params.ms : 100;
      await new Promise((resolve) => setTimeout(resolve, ms));
      await db.query('UPDATE test_executions SET finished_at = clock_timestamp() WHERE id = $1', [r.rows[0]?.id]);
      return { pid: process.pid };
    },
  };
}
