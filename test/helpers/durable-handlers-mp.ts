/**
 * Handler module for the durable multi-process tests (`seedcore worker --handlers <this file>`).
 * Every step body journals its start and end in durable_journal (task, step, pid), so the
 * test can count on the data how often each step really ran.
 */
import type { Db } from '../../src/db/types.js';
import type { HandlerMap } from '../../src/tasks/types.js';

async function journal(db: Db, taskId: string, step: string): Promise<number> {
  const r = await db.query<{ id: number }>('INSERT INTO durable_journal (task_id, step, pid, started_at) VALUES ($1, $2, $3, clock_timestamp()) RETURNING id', [
    taskId,
    step,
    process.pid,
  ]);
  return r.rows[0]?.id as number;
}

async function finished(db: Db, id: number): Promise<void> {
  await db.query('UPDATE durable_journal SET finished_at = clock_timestamp() WHERE id = $1', [id]);
}

export default function handlers(db: Db): HandlerMap {
  return {
    // Five steps of params.ms each; the result depends on every step's stored result.
    'five-steps': async (task, ctx) => {
      const ms = Number(task.params.ms ?? 300);
      const values: number[] = [];
      for (let i = 1; i <= 5; i++) {
        values.push(
          await ctx.step(`s${i}`, async () => {
            const j = await journal(db, task.id, `s${i}`);
            await new Promise((r) => setTimeout(r, ms));
            await finished(db, j);
            return i * i + Number(task.params.seed ?? 0);
          }),
        );
      }
      return { values, sum: values.reduce((a, b) => a + b, 0) };
    },
    // A step, a durable sleep, a step: the second step records which process resumed it.
    'mp-sleeper': async (task, ctx) => {
      const before = await ctx.step('before', async () => {
        await finished(db, await journal(db, task.id, 'before'));
        return process.pid;
      });
      await ctx.sleepFor(Number(task.params.seconds ?? 2));
      const after = await ctx.step('after', async () => {
        await finished(db, await journal(db, task.id, 'after'));
        return process.pid;
      });
      return { before, after };
    },
    'mp-quick': async (task) => {
      await finished(db, await journal(db, task.id, 'quick'));
      return process.pid;
    },
  };
}
