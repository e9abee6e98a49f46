/**
 * Durable tasks across real `seedcore worker` processes (server only: a PGlite data directory
 * is single-process). A 5-step task is SIGKILLed mid-run and finished by another process: the
 * completed steps ran exactly once, the one in flight at most twice, same result. A sleeper on
 * a concurrency-1 worker lets another task run during its sleep and resumes on a second
 * process after the first is gone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { SERVER_URL, freshDb, type TestDb } from './helpers/db.js';
import { ROOT, spawnSeedcore, waitForLog, type Proc } from './helpers/procs.js';
import { taskRow, waitFor } from './helpers/tasks.js';
import { resolve } from 'node:path';

const HANDLERS = resolve(ROOT, 'dist/test/helpers/durable-handlers-mp.js');

function startWorker(url: string, types: string, concurrency: number): Proc {
  return spawnSeedcore([
    '--database-url',
    url,
    'worker',
    '--handlers',
    HANDLERS,
    '--types',
    types,
    '--concurrency',
    String(concurrency),
    '--prefetch',
    '0',
    '--lease-seconds',
    '2',
    '--heartbeat-seconds',
    '0.4',
    '--poll-ms',
    '100',
    '--max-attempts',
    '10',
  ]);
}

describe(
  'durable tasks across worker processes (postgres)',
  { skip: SERVER_URL ? false : 'needs DATABASE_URL: PGlite data directories are single-process' },
  () => {
    let t: TestDb;
    let c: TaskCoordinator;
    const procs: Proc[] = [];
    const start = async (types: string, concurrency: number): Promise<Proc> => {
      const p = startWorker(t.url as string, types, concurrency);
      procs.push(p);
      await waitForLog(p, 'worker ready');
      return p;
    };
    const kill = async (p: Proc): Promise<Date> => {
      p.child.kill('SIGKILL');
      await p.exited;
      return (await t.db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]?.now as Date;
    };
    before(async () => {
      t = await freshDb('postgres');
      c = new TaskCoordinator(t.db);
      await t.db.exec(`CREATE TABLE durable_journal (id bigserial PRIMARY KEY, task_id uuid NOT NULL, step text NOT NULL, pid int NOT NULL,
                                                   started_at timestamptz NOT NULL, finished_at timestamptz)`);
    });
    after(async () => {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await t.cleanup();
    });

    it('a 5-step task SIGKILLed mid-run: completed steps ran once, the one in flight at most twice, same result', async () => {
      const tasks = await c.submitMany([0, 1, 2, 3].map((seed) => ({ type: 'five-steps', params: { ms: 300, seed } })));
      const a = await start('five-steps', 4);
      // Kill while every task is inside step 3 (two steps stored, the third in flight).
      await waitFor(
        'all four tasks inside step 3',
        async () => {
          const r = await t.db.query<{ n: number }>("SELECT count(DISTINCT task_id)::int AS n FROM durable_journal WHERE step = 's3'");
          return r.rows[0]?.n === 4;
        },
        20_000,
        5,
      );
      const killedAt = await kill(a);
      const stored = await t.db.query<{ task_id: string; name: string }>('SELECT task_id, name FROM task_checkpoints WHERE created_at <= $1', [killedAt]);
      assert.ok(stored.rows.length >= 8, `at least two steps of each task were stored before the kill (got ${stored.rows.length})`);
      await start('five-steps', 4);
      for (const task of tasks) await waitFor(`task ${task.id} completed`, async () => (await taskRow(t.db, task.id)).status === 'completed', 30_000, 50);
      const storedBefore = new Set(stored.rows.map((r) => `${r.task_id}:${r.name}`));
      const ran = await t.db.query<{ task_id: string; step: string; n: number }>('SELECT task_id, step, count(*)::int AS n FROM durable_journal GROUP BY 1, 2');
      let repeated = 0;
      for (const task of tasks) {
        const seed = Number(task.params.seed);
        const values = [1, 4, 9, 16, 25].map((v) => v + seed);
        assert.deepEqual((await taskRow(t.db, task.id)).result, { values, sum: values.reduce((x, y) => x + y, 0) }, 'the result the task would have had');
        for (const step of ['s1', 's2', 's3', 's4', 's5']) {
          const n = ran.rows.find((r) => r.task_id === task.id && r.step === step)?.n ?? 0;
          if (storedBefore.has(`${task.id}:${step}`)) assert.equal(n, 1, `${task.id} ${step} was stored before the kill: it ran exactly once`);
          else assert.ok(n >= 1 && n <= 2, `${task.id} ${step} ran ${n} times (in flight at the kill: at most twice)`);
          if (n === 2) repeated++;
        }
        const runs = await t.db.query<{ outcome: string }>('SELECT outcome FROM task_runs WHERE task_id = $1 ORDER BY ended_at', [task.id]);
        assert.deepEqual(
          runs.rows.map((r) => r.outcome),
          ['retry', 'completed'],
          'the killed execution was recovered (retry), the second completed',
        );
      }
      // Positive control: the kill did interrupt a step (its body ran again after the restart).
      assert.ok(repeated >= 1, 'some in-flight step ran again');
    });

    it('sleepFor(2) on a concurrency-1 worker: another task completes during the sleep; the sleeper resumes on another process', async () => {
      const a = await start('mp-sleeper,mp-quick', 1);
      const sleeper = await c.submit({ type: 'mp-sleeper', params: { seconds: 2 } });
      await waitFor('sleeper suspended', async () => {
        const r = await t.db.query<{ waiting_for: string | null }>("SELECT waiting_for FROM tasks WHERE id = $1 AND status = 'queued'", [sleeper.id]);
        return r.rows[0]?.waiting_for === 'sleep';
      });
      const quick = await c.submit({ type: 'mp-quick' });
      await waitFor('quick task completed on the same worker during the sleep', async () => (await taskRow(t.db, quick.id)).status === 'completed');
      assert.equal((await taskRow(t.db, quick.id)).result, a.pid, 'the only worker (concurrency 1) ran it: the sleeper held no slot');
      assert.equal((await taskRow(t.db, sleeper.id)).status, 'queued', 'still asleep');
      await kill(a);
      const b = await start('mp-sleeper,mp-quick', 1);
      await waitFor('sleeper completed', async () => (await taskRow(t.db, sleeper.id)).status === 'completed', 20_000, 50);
      const row = await taskRow(t.db, sleeper.id);
      assert.deepEqual(row.result, { before: a.pid, after: b.pid });
      assert.equal(row.attempts, 1, 'the sleep used no attempt');
      const before = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM durable_journal WHERE task_id = $1 AND step = 'before'", [sleeper.id]);
      assert.equal(before.rows[0]?.n, 1, 'the step before the sleep ran once');
    });
  },
);
