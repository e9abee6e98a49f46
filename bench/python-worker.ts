/**
 * bench:python — the Python worker (`python3 -m seedcore.worker`) next to the TypeScript
 * worker (`seedcore worker`) draining the same no-op tasks, in one run.
 *
 * Each system gets its own fresh, migrated scratch database on the server in DATABASE_URL.
 * The worker process is started and registered first; then BENCH_TASKS (default 10,000)
 * no-op tasks are inserted in one statement and the drain is timed until the last one is
 * completed. Both workers run with the same concurrency (BENCH_CONCURRENCY, default 8) and
 * their defaults otherwise. Reported: tasks/s, and the worker process's CPU seconds (Linux).
 *
 *   DATABASE_URL=postgres://… npm run bench:python
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PostgresDb } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { adminStatement, databaseUrl } from './scratch-db.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PYTHON = '/usr/bin/python3';
const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

interface Result {
  system: string;
  tasks: number;
  seconds: number;
  tasksPerSecond: number;
  cpuSeconds: number | null;
}

/** utime + stime of a process in seconds (Linux /proc), or null. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function waitForOutput(child: ChildProcess, text: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`timed out waiting for '${text}':\n${buf.slice(-2000)}`)), timeoutMs);
    const on = (b: Buffer) => {
      buf += b.toString();
      if (buf.includes(text)) {
        clearTimeout(timer);
        child.stderr?.off('data', on);
        child.stderr?.resume();
        res();
      }
    };
    child.stderr?.on('data', on);
    child.on('exit', (code) => rej(new Error(`worker exited (${code}) before '${text}':\n${buf.slice(-2000)}`)));
  });
}

async function run(base: string, system: 'typescript' | 'python', dir: string): Promise<Result> {
  const name = `seedcore_bench_${system}_${process.pid}`;
  await adminStatement(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await adminStatement(base, `CREATE DATABASE ${name}`);
  const url = databaseUrl(base, name);
  const db = await PostgresDb.open({ databaseUrl: url, poolSize: 2 });
  let child: ChildProcess | undefined;
  try {
    await migrate(db);
    if (system === 'typescript') {
      child = spawn(
        process.execPath,
        [
          resolve(ROOT, 'bin/seedcore.js'),
          '--database-url',
          url,
          'worker',
          '--handlers',
          join(dir, 'noop.mjs'),
          '--types',
          'noop',
          '--concurrency',
          String(CONCURRENCY),
        ],
        {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      await waitForOutput(child, 'worker ready');
    } else {
      child = spawn(PYTHON, ['-m', 'seedcore.worker', '--handlers', join(dir, 'noop.py'), '--concurrency', String(CONCURRENCY), '--log-level', 'WARNING'], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: url, PYTHONPATH: resolve(ROOT, 'clients/python'), PYTHONDONTWRITEBYTECODE: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      // WARNING level hides the start line: wait for the registry instance instead.
      child.stderr?.resume();
      for (let i = 0; ; i++) {
        const r = await db.query("SELECT 1 FROM registry_instance WHERE status = 'alive'");
        if (r.rowCount > 0) break;
        if (i > 600) throw new Error('the Python worker did not register');
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    const pid = child.pid as number;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await db.query("INSERT INTO tasks (type, status) SELECT 'noop', 'queued' FROM generate_series(1, $1::int)", [TASKS]);
    for (;;) {
      const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'");
      if ((r.rows[0]?.n ?? 0) >= TASKS) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuSeconds(pid);
    return {
      system,
      tasks: TASKS,
      seconds: Number(seconds.toFixed(2)),
      tasksPerSecond: Math.round(TASKS / seconds),
      cpuSeconds: cpu0 !== null && cpu1 !== null ? Number((cpu1 - cpu0).toFixed(2)) : null,
    };
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await db.close();
    await adminStatement(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

async function main(): Promise<void> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('bench:python needs DATABASE_URL (a PostgreSQL server; the Python worker cannot reach PGlite)');
  const dir = mkdtempSync(join(tmpdir(), 'seedcore-bench-py-'));
  try {
    writeFileSync(join(dir, 'noop.mjs'), 'export default { noop: async () => null };\n');
    writeFileSync(join(dir, 'noop.py'), 'def noop(task, ctx):\n    return None\n\nhandlers = {"noop": noop}\n');
    const ts = await run(base, 'typescript', dir);
    const py = await run(base, 'python', dir);
    const ratio = py.tasksPerSecond / ts.tasksPerSecond;
    for (const r of [ts, py]) {
      console.log(`${r.system.padEnd(11)} ${r.tasks} no-op tasks in ${r.seconds} s: ${r.tasksPerSecond} tasks/s, worker CPU ${r.cpuSeconds ?? '?'} s`);
    }
    console.log(`python / typescript: ${ratio.toFixed(2)} (target >= 0.30)`);
    console.log(JSON.stringify({ bench: 'python-worker', concurrency: CONCURRENCY, results: [ts, py], ratio: Number(ratio.toFixed(3)) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
