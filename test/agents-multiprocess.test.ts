/**
 * Routing across processes (server only): three `seedcore worker --organ` processes, two of
 * which provide the capability the tasks require. The first eligible organ is SIGKILLed while
 * it runs tasks; its tasks are recovered and finish on the other eligible organ only, never on
 * the organ without the capability. Checked on the data: every execution in task_runs, its
 * owner instance and that instance's logical id (the organ).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { submitTasks } from '../src/tasks/submit.js';
import { SERVER_URL, freshDb, type TestDb } from './helpers/db.js';
import { spawnSeedcore, waitForLog, type Proc } from './helpers/procs.js';
import { waitFor } from './helpers/tasks.js';

if (SERVER_URL) {
  describe('capability routing across worker processes (postgres)', () => {
    let t: TestDb;
    const procs: Proc[] = [];
    before(async () => {
      t = await freshDb('postgres', { poolSize: 4 });
    });
    after(async () => {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await t.cleanup();
    });

    const worker = (organ: string, caps: string): Proc => {
      const p = spawnSeedcore(
        [
          '--database-url',
          t.url as string,
          'worker',
          '--organ',
          organ,
          '--capabilities',
          caps,
          '--concurrency',
          '4',
          '--lease-seconds',
          '3',
          '--poll-ms',
          '100',
        ],
        { SEEDCORE_LOG_LEVEL: 'info' },
      );
      procs.push(p);
      return p;
    };

    it('an SIGKILLed organ hands its tasks to the other eligible organ only', async () => {
      const a = worker('mp-organ-a', 'work@2');
      const c = worker('mp-organ-c', 'other@1');
      await Promise.all([waitForLog(a, 'worker ready', 90_000), waitForLog(c, 'worker ready', 90_000)]);
      const tasks = await submitTasks(
        t.db,
        Array.from({ length: 30 }, () => ({ type: 'sleep', params: { ms: 400 }, requires: ['work>=2'] })),
      );
      const ids = tasks.map((x) => x.id);
      // Positive control: a task only organ c can serve, submitted while the 30 wait, runs on c,
      // so c was claiming while it left those alone.
      const [marker] = await submitTasks(t.db, [{ type: 'sleep', params: { ms: 1 }, requires: ['other>=1'] }]);
      const running = async (organ: string) =>
        (
          await t.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM tasks t JOIN registry_instance ri ON ri.instance_id::text = t.owner_id
              WHERE t.status = 'running' AND ri.logical_id = $1`,
            [organ],
          )
        ).rows[0]?.n ?? 0;
      await waitFor('organ a runs tasks', async () => (await running('mp-organ-a')) > 0, 60_000, 20);
      a.child.kill('SIGKILL');
      await a.exited;
      const b = worker('mp-organ-b', 'work@2.1');
      await waitForLog(b, 'worker ready', 90_000);
      await waitFor(
        'all 30 completed',
        async () =>
          (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::uuid[]) AND status = 'completed'", [ids])).rows[0]?.n ===
          30,
        120_000,
        100,
      );
      const markerRun = await waitFor(
        'the marker task to complete',
        async () =>
          (
            await t.db.query<{ organ: string }>(
              `SELECT ri.logical_id AS organ FROM task_runs r JOIN registry_instance ri ON ri.instance_id::text = r.owner_id
                WHERE r.task_id = $1 AND r.outcome = 'completed'`,
              [marker?.id],
            )
          ).rows[0],
        30_000,
        100,
      );
      assert.equal(markerRun.organ, 'mp-organ-c');
      const runs = await t.db.query<{ organ: string | null; outcome: string; n: number }>(
        `SELECT ri.logical_id AS organ, r.outcome, count(*)::int AS n
           FROM task_runs r LEFT JOIN registry_instance ri ON ri.instance_id::text = r.owner_id
          WHERE r.task_id = ANY($1::uuid[]) GROUP BY 1, 2 ORDER BY 1, 2`,
        [ids],
      );
      const byOrgan = new Map<string, number>();
      for (const r of runs.rows) byOrgan.set(r.organ ?? '(unknown)', (byOrgan.get(r.organ ?? '(unknown)') ?? 0) + r.n);
      assert.equal(byOrgan.get('mp-organ-c'), undefined, `the organ without the capability ran nothing: ${JSON.stringify(runs.rows)}`);
      assert.equal(byOrgan.get('(unknown)'), undefined, JSON.stringify(runs.rows));
      assert.ok((byOrgan.get('mp-organ-b') ?? 0) > 0, `the other eligible organ finished the work: ${JSON.stringify(runs.rows)}`);
      const completedOnB = runs.rows.filter((r) => r.organ === 'mp-organ-b' && r.outcome === 'completed').reduce((n, r) => n + r.n, 0);
      const completedOnA = runs.rows.filter((r) => r.organ === 'mp-organ-a' && r.outcome === 'completed').reduce((n, r) => n + r.n, 0);
      assert.equal(completedOnA + completedOnB, 30, JSON.stringify(runs.rows));
    });
  });
}
