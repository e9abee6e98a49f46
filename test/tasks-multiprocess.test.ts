/**
 * Several `seedcore worker` processes on one PostgreSQL database, some SIGKILLed mid-run and
 * restarted; then the invariants are checked on the data. Server only: an embedded (PGlite)
 * data directory can be opened by one process at a time, so there is no multi-process mode
 * to test there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { SERVER_URL, freshDb, type TestDb } from './helpers/db.js';
import { startJournaledWorker, waitForLog, type Proc } from './helpers/procs.js';
import { waitFor } from './helpers/tasks.js';

const TASKS = 400;
const MAX_ATTEMPTS = 10;

function startWorker(url: string): Proc {
  return startJournaledWorker(url, { prefetch: 2, leaseSeconds: 2, heartbeatSeconds: 0.4, pollMs: 100, maxAttempts: MAX_ATTEMPTS });
}

describe(
  'tasks: several worker processes, SIGKILL and restart (postgres)',
  { skip: SERVER_URL ? false : 'needs DATABASE_URL: PGlite data directories are single-process' },
  () => {
    let t: TestDb;
    const procs: Proc[] = [];
    before(async () => {
      t = await freshDb('postgres');
      await t.db.exec(`CREATE TABLE test_executions (id bigserial PRIMARY KEY, task_id uuid NOT NULL, pid int NOT NULL, owner text NOT NULL,
                                                  started_at timestamptz NOT NULL, finished_at timestamptz)`);
    });
    after(async () => {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await t.cleanup();
    });

    it('every task completes once, no two live workers run a task at once, attempts within bounds', async (ctx) => {
      const url = t.url as string;
      const c = new TaskCoordinator(t.db);
      await c.submitMany(Array.from({ length: TASKS }, (_, i) => ({ type: 'journaled', params: { ms: 60 + (i % 5) * 20 } })));
      const killedAt = new Map<number, Date>();
      for (let i = 0; i < 4; i++) procs.push(startWorker(url));
      await Promise.all(procs.map((p) => waitForLog(p, 'worker ready')));
      const doneCount = async (): Promise<number> =>
        (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'")).rows[0]?.n ?? 0;
      // Two kill-and-restart rounds while work is in flight.
      for (const round of [0, 1]) {
        await waitFor(`progress before kill round ${round}`, async () => (await doneCount()) >= (round + 1) * 80, 30_000, 20);
        const victim = procs[round] as Proc;
        victim.child.kill('SIGKILL');
        await victim.exited;
        const now = await t.db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
        killedAt.set(victim.pid, now.rows[0]?.now as Date);
        const restarted = startWorker(url);
        procs.push(restarted);
        await waitForLog(restarted, 'worker ready');
      }
      await waitFor('all tasks completed', async () => (await doneCount()) === TASKS, 60_000, 50);

      // Graceful stop of the survivors: exit code 0.
      const alive = procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
      for (const p of alive) p.child.kill('SIGTERM');
      const codes = await Promise.all(alive.map((p) => p.exited));
      assert.deepEqual(
        codes,
        alive.map(() => 0),
      );

      const tasks = await t.db.query<{ id: string; status: string; attempts: number }>(
        "SELECT id, status::text AS status, attempts FROM tasks WHERE type = 'journaled'",
      );
      assert.equal(tasks.rows.length, TASKS, 'no task lost');
      assert.ok(tasks.rows.every((r) => r.status === 'completed'));
      const ex = await t.db.query<{ task_id: string; pid: number; started_at: Date; finished_at: Date | null }>(
        'SELECT task_id, pid, started_at, finished_at FROM test_executions ORDER BY task_id, started_at',
      );
      const byTask = new Map<string, typeof ex.rows>();
      for (const e of ex.rows) {
        const list = byTask.get(e.task_id) ?? [];
        list.push(e);
        byTask.set(e.task_id, list);
      }
      let reruns = 0;
      for (const task of tasks.rows) {
        const runs = byTask.get(task.id) ?? [];
        assert.ok(runs.length >= 1, `task ${task.id} has an execution`);
        assert.ok(task.attempts >= runs.length && task.attempts <= MAX_ATTEMPTS, `attempts ${task.attempts} vs ${runs.length} executions`);
        for (let i = 1; i < runs.length; i++) {
          reruns++;
          const prev = runs[i - 1] as (typeof runs)[number];
          const cur = runs[i] as (typeof runs)[number];
          const kill = killedAt.get(prev.pid);
          // A task runs again only because its previous worker died: that execution either never
          // finished, or finished but the worker was killed before its completion was written.
          assert.ok(kill !== undefined, `task ${task.id} re-ran although worker ${prev.pid} was never killed`);
          const prevEnd = prev.finished_at ?? kill;
          assert.ok(prevEnd.getTime() <= cur.started_at.getTime(), `task ${task.id}: two live executions overlapped`);
        }
      }
      ctx.diagnostic(`${ex.rows.length} executions for ${TASKS} tasks, ${reruns} re-runs after ${killedAt.size} SIGKILLs`);
      // Sanity: the kills did hit work in flight (otherwise this test proves little).
      assert.ok(reruns >= 1, `expected at least one re-run after the SIGKILLs (got ${reruns})`);
    });
  },
);
