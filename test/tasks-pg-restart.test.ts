/**
 * PostgreSQL restarted under running worker processes: the workers stay up, reconnect and
 * finish every task. Server only, and only where this test may restart the local cluster
 * (`pg_ctlcluster`, PostgreSQL 15 "main", run as root). The downtime is a few seconds; the
 * test makes sure the server is back up before it ends.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { SERVER_URL, freshDb, type TestDb } from './helpers/db.js';
import { startJournaledWorker, waitForLog, type Proc } from './helpers/procs.js';
import { waitFor } from './helpers/tasks.js';

const TASKS = 200;
const canRestart =
  SERVER_URL !== undefined &&
  existsSync('/usr/bin/pg_ctlcluster') &&
  process.getuid?.() === 0 &&
  /127\.0\.0\.1|localhost/.test(SERVER_URL) &&
  !process.env.SEEDCORE_NO_PG_RESTART;

function serverUp(): boolean {
  try {
    execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-t', '1'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function ensureServerUp(): Promise<void> {
  for (let i = 0; i < 60 && !serverUp(); i++) {
    if (i === 20) execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', '15', 'main', 'start'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe(
  'tasks: PostgreSQL restart under running workers (postgres)',
  { skip: canRestart ? false : 'needs DATABASE_URL on the local cluster, root and pg_ctlcluster (set SEEDCORE_NO_PG_RESTART=1 to skip)' },
  () => {
    let t: TestDb;
    const procs: Proc[] = [];
    before(async () => {
      t = await freshDb('postgres', { poolSize: 2 });
      await t.db.exec(`CREATE TABLE test_executions (id bigserial PRIMARY KEY, task_id uuid NOT NULL, pid int NOT NULL, owner text NOT NULL,
                                                    started_at timestamptz NOT NULL, finished_at timestamptz)`);
    });
    after(async () => {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await ensureServerUp();
      await t.cleanup();
    });

    it('workers stay up, reconnect and finish every task', async (ctx) => {
      const url = t.url as string;
      await new TaskCoordinator(t.db).submitMany(Array.from({ length: TASKS }, () => ({ type: 'journaled', params: { ms: 150 } })));
      for (let i = 0; i < 2; i++) {
        procs.push(startJournaledWorker(url, { leaseSeconds: 10, heartbeatSeconds: 1, pollMs: 200, maxAttempts: 10 }));
      }
      await Promise.all(procs.map((p) => waitForLog(p, 'worker ready')));
      const done = async (): Promise<number> => {
        try {
          return (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'")).rows[0]?.n ?? 0;
        } catch {
          return -1; // server restarting
        }
      };
      await waitFor('some progress', async () => (await done()) >= 30, 30_000, 20);
      const t0 = Date.now();
      try {
        execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', '15', 'main', 'restart', '-m', 'fast'], { stdio: 'ignore', timeout: 60_000 });
      } finally {
        await ensureServerUp();
      }
      let left = -1;
      await waitFor('database reachable again', async () => (left = await done()) >= 0, 30_000, 50);
      ctx.diagnostic(`server restarted in ${Date.now() - t0} ms; ${TASKS - left} tasks left to do after it`);
      assert.ok(left < TASKS, 'work remained after the restart (otherwise this test proves little)');
      await waitFor('all tasks completed after the restart', async () => (await done()) === TASKS, 60_000, 100);
      for (const p of procs) assert.ok(p.child.exitCode === null && p.child.signalCode === null, `worker ${p.pid} stayed up:\n${p.stderr().slice(-2000)}`);
      for (const p of procs) p.child.kill('SIGTERM');
      assert.deepEqual(await Promise.all(procs.map((p) => p.exited)), [0, 0]);
      const r = await t.db.query<{ n: number; max: number }>(
        "SELECT count(*)::int AS n, max(attempts) AS max FROM tasks WHERE type = 'journaled' AND status = 'completed'",
      );
      assert.equal(r.rows[0]?.n, TASKS);
      assert.ok((r.rows[0]?.max ?? 99) <= 10);
    });
  },
);
