/**
 * TypeScript and Python workers on one database (server only: the Python client cannot reach
 * PGlite). TypeScript submits and reads; `python3 -m seedcore.worker` executes; a mixed fleet
 * drains 2,000 tasks while the Python worker is SIGKILLed and restarted. Every execution is
 * journaled in test_executions, so overlaps are checked on the data.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { freshDb, type TestDb } from './helpers/db.js';
import { ROOT, startJournaledWorker, waitForLog, type Proc } from './helpers/procs.js';
import { waitFor } from './helpers/tasks.js';
import { PYTHON, pythonSkipReason } from './helpers/python.js';

const PY_HANDLERS = `
import os, threading, time
import psycopg

_local = threading.local()

def _conn():
    c = getattr(_local, "c", None)
    if c is None:
        c = _local.c = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return c

def journaled(task, ctx):
    c = _conn()
    rid = c.execute(
        "INSERT INTO test_executions (task_id, pid, owner, started_at) VALUES (%s, %s, %s, clock_timestamp()) RETURNING id",
        (task.id, os.getpid(), ctx.owner),
    ).fetchone()[0]
    time.sleep(task.params.get("ms", 100) / 1000)
    c.execute("UPDATE test_executions SET finished_at = clock_timestamp() WHERE id = %s", (rid,))
    return {"pid": os.getpid()}

def py_echo(task, ctx):
    if task.params.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": task.params, "lang": "python", "attempts": task.attempts}

handlers = {"journaled": journaled, "py_echo": py_echo}
`;

function startPythonWorker(url: string, handlersFile: string, args: string[] = []): Proc {
  const pkg = resolve(ROOT, 'clients/python');
  const child = spawn(PYTHON, ['-m', 'seedcore.worker', '--handlers', handlersFile, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, PYTHONPATH: pkg, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  child.stdout.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, pid: child.pid as number, stderr: () => err, exited };
}

const skip = pythonSkipReason(false);

describe('TypeScript and Python workers on one database (postgres)', { skip: skip ?? false }, () => {
  let t: TestDb;
  let dir: string;
  let handlersFile: string;
  const procs: Proc[] = [];
  before(async () => {
    t = await freshDb('postgres');
    await t.db.exec(`CREATE TABLE test_executions (id bigserial PRIMARY KEY, task_id uuid NOT NULL, pid int NOT NULL, owner text NOT NULL,
                                                started_at timestamptz NOT NULL, finished_at timestamptz)`);
    dir = mkdtempSync(join(tmpdir(), 'seedcore-interop-'));
    handlersFile = join(dir, 'handlers.py');
    writeFileSync(handlersFile, PY_HANDLERS);
  });
  after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('TypeScript submits, the Python worker executes, TypeScript sees the result (and the error)', async () => {
    const c = new TaskCoordinator(t.db);
    const py = startPythonWorker(t.url as string, handlersFile, ['--types', 'py_echo', '--max-attempts', '1', '--poll-interval', '0.05']);
    procs.push(py);
    await waitForLog(py, 'serving');
    const ok = await c.submit({ type: 'py_echo', params: { n: 7, s: 'é' }, priority: 'high' });
    const bad = await c.submit({ type: 'py_echo', params: { fail: true }, max_attempts: 1 });
    await waitFor('both ended', async () => {
      const r = await t.db.query("SELECT 1 FROM tasks WHERE id = ANY($1::uuid[]) AND status IN ('completed', 'failed')", [[ok.id, bad.id]]);
      return r.rowCount === 2;
    });
    const done = await c.get(ok.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.result, { echo: { n: 7, s: 'é' }, lang: 'python', attempts: 1 });
    const failed = await c.get(bad.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error, 'ValueError: asked to fail');
    py.child.kill('SIGTERM');
    assert.equal(await py.exited, 0);
  });

  it('a mixed fleet drains 2,000 tasks with the Python worker SIGKILLed and restarted: all complete, no overlapping executions', async (ctx) => {
    const TASKS = 2000;
    const MAX_ATTEMPTS = 10;
    const url = t.url as string;
    const c = new TaskCoordinator(t.db);
    await c.submitMany(Array.from({ length: TASKS }, (_, i) => ({ type: 'journaled', params: { ms: 5 + (i % 4) * 5 } })));
    const pyArgs = ['--types', 'journaled', '--concurrency', '4', '--lease-seconds', '2', '--max-attempts', String(MAX_ATTEMPTS), '--poll-interval', '0.1'];
    const ts = startJournaledWorker(url, { leaseSeconds: 2, heartbeatSeconds: 0.4, pollMs: 100, maxAttempts: MAX_ATTEMPTS });
    const py = startPythonWorker(url, handlersFile, pyArgs);
    procs.push(ts, py);
    await Promise.all([waitForLog(ts, 'worker ready'), waitForLog(py, 'serving')]);

    // Kill the Python worker while it has executions in flight, after it has done real work.
    await waitFor(
      'the Python worker to be mid-run',
      async () => {
        const r = await t.db.query<{ done: number; open: number }>(
          'SELECT count(*) FILTER (WHERE finished_at IS NOT NULL)::int AS done, count(*) FILTER (WHERE finished_at IS NULL)::int AS open FROM test_executions WHERE pid = $1',
          [py.pid],
        );
        return (r.rows[0]?.done ?? 0) >= 300 && (r.rows[0]?.open ?? 0) >= 1;
      },
      60_000,
      5,
    );
    py.child.kill('SIGKILL');
    await py.exited;
    const killedAt = (await t.db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]?.now as Date;
    const py2 = startPythonWorker(url, handlersFile, pyArgs);
    procs.push(py2);
    await waitForLog(py2, 'serving');

    const doneCount = async (): Promise<number> =>
      (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE type = 'journaled' AND status = 'completed'")).rows[0]?.n ?? 0;
    try {
      await waitFor('all tasks completed', async () => (await doneCount()) === TASKS, 90_000, 50);
    } catch (e) {
      const st = await t.db.query('SELECT status::text AS status, count(*)::int AS n, max(attempts) AS max_attempts FROM tasks GROUP BY 1');
      throw new Error(
        `${(e as Error).message}\nstatus: ${JSON.stringify(st.rows)}\nTS worker:\n${ts.stderr().slice(-3000)}\nPython worker:\n${py2.stderr().slice(-3000)}`,
      );
    }
    for (const p of [ts, py2]) p.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([ts.exited, py2.exited]), [0, 0], 'both survivors drain and exit 0 on SIGTERM');

    const tasks = await t.db.query<{ id: string; status: string; attempts: number }>(
      "SELECT id, status::text AS status, attempts FROM tasks WHERE type = 'journaled'",
    );
    assert.equal(tasks.rows.length, TASKS, 'no task lost');
    assert.ok(tasks.rows.every((r) => r.status === 'completed'));
    const ex = await t.db.query<{ task_id: string; pid: number; started_at: Date; finished_at: Date | null }>(
      'SELECT task_id, pid, started_at, finished_at FROM test_executions ORDER BY task_id, started_at',
    );
    const byTask = new Map<string, typeof ex.rows>();
    for (const e of ex.rows) byTask.set(e.task_id, [...(byTask.get(e.task_id) ?? []), e]);
    let recovered = 0;
    const recoveredBy = new Set<number>();
    for (const task of tasks.rows) {
      const runs = byTask.get(task.id) ?? [];
      assert.ok(runs.length >= 1, `task ${task.id} has an execution`);
      assert.ok(task.attempts >= runs.length && task.attempts <= MAX_ATTEMPTS, `attempts ${task.attempts} vs ${runs.length} executions`);
      for (let i = 1; i < runs.length; i++) {
        const prev = runs[i - 1] as (typeof runs)[number];
        const cur = runs[i] as (typeof runs)[number];
        // Only the killed Python worker's executions may be repeated.
        assert.equal(prev.pid, py.pid, `task ${task.id} re-ran although worker ${prev.pid} was never killed`);
        const prevEnd = prev.finished_at ?? killedAt;
        assert.ok(prevEnd.getTime() <= cur.started_at.getTime(), `task ${task.id}: two live executions overlapped`);
        recovered++;
        recoveredBy.add(cur.pid);
      }
    }
    const perPid = new Map<number, number>();
    for (const e of ex.rows) perPid.set(e.pid, (perPid.get(e.pid) ?? 0) + 1);
    ctx.diagnostic(
      `executions per pid: ${JSON.stringify(Object.fromEntries(perPid))}; ${recovered} tasks of the killed Python worker re-ran on ${[...recoveredBy].join(', ')}`,
    );
    assert.ok(recovered >= 1, 'the killed worker had tasks in flight, and they were recovered');
    assert.ok((perPid.get(ts.pid) ?? 0) > 0 && (perPid.get(py2.pid) ?? 0) > 0, 'both languages worked after the restart');
    const open = ex.rows.filter((e) => e.finished_at === null);
    assert.ok(
      open.every((e) => e.pid === py.pid),
      'only the killed process left unfinished executions',
    );
  });
});
