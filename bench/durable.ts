/**
 * Durable tasks benchmark. Prints JSON.
 *
 *   npm run bench:durable          # both backends for steps/sleeps; the hot path needs DATABASE_URL
 *
 * 1. hotPath (server only): the raw batched claim+complete loop (claim.ts's claim, batches of
 *    BENCH_BATCH) with migration 018's triggers on tasks (run history, wakes, waiting_for) on and off, alternating rounds
 *    in one scratch database; the median of BENCH_ROUNDS rounds each, as tasks/s and as the
 *    server backend's CPU time per task (read from /proc when the server is local: on a busy
 *    machine the CPU time is the steadier figure). Compare the two medians of one run.
 * 2. step: the cost of one `ctx.step` whose body does nothing (the stored-function round trip
 *    and the checkpoint insert), measured inside one running task: ms per step, round trips
 *    per step counted by wrapping the database.
 * 3. sleepResume: a task that sleeps 0 s BENCH_SLEEPS times through a dispatcher: each cycle
 *    is suspend → claim → replay → next sleep (ms per cycle).
 */
import { performance } from 'node:perf_hooks';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PGliteDb, PostgresDb } from '../src/db/index.js';
import type { Db, Queryable } from '../src/db/types.js';
import { migrate } from '../src/migrate/runner.js';
import { claimTasks } from '../src/tasks/claim.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { Dispatcher } from '../src/tasks/dispatcher.js';
import { Durable } from '../src/tasks/durable/durable.js';
import { RAW_COMPLETE, adminStatement, databaseUrl } from './scratch-db.js';

const BASE = process.env.DATABASE_URL;
const TASKS = Number(process.env.BENCH_TASKS ?? 20_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const STEPS = Number(process.env.BENCH_STEPS ?? 500);
const SLEEPS = Number(process.env.BENCH_SLEEPS ?? 50);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** CPU time (µs) the server backend `pid` has used, when the server runs on this machine. */
function backendCpuUs(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) * (1_000_000 / 100);
  } catch {
    return undefined;
  }
}

async function drain(db: Db, pid: number): Promise<{ perSec: number; cpuUsPerTask: number | undefined }> {
  await db.query(`INSERT INTO tasks (type, status) SELECT 'noop', 'queued' FROM generate_series(1, $1)`, [TASKS]);
  await db.query('VACUUM ANALYZE tasks');
  const owner = `bench-${randomBytes(3).toString('hex')}`;
  const cpu0 = backendCpuUs(pid);
  const t0 = performance.now();
  for (;;) {
    const rows = await claimTasks(db, { owner, limit: BATCH, types: ['noop'], queues: ['default'], leaseSeconds: 600, agingSeconds: 300, limitsLocked: false });
    if (rows.length === 0) break;
    await db.query(RAW_COMPLETE, [rows.map((r) => r.id), owner]);
  }
  const s = (performance.now() - t0) / 1000;
  const cpu1 = backendCpuUs(pid);
  await db.query('TRUNCATE task_runs, tasks CASCADE');
  return { perSec: TASKS / s, cpuUsPerTask: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / TASKS : undefined };
}

/** Migration 018's two update triggers on tasks, switched together. */
const TRIGGERS = (how: 'ENABLE' | 'DISABLE'): string =>
  `ALTER TABLE tasks ${how} TRIGGER trg_tasks_durable_transitions; ALTER TABLE tasks ${how} TRIGGER trg_tasks_clear_waiting_for`;

async function hotPath(): Promise<Record<string, unknown>> {
  if (!BASE) return { skipped: 'needs DATABASE_URL' };
  const name = `seedcore_bench_durable_${randomBytes(4).toString('hex')}`;
  await adminStatement(BASE, `CREATE DATABASE ${name}`);
  const db = await PostgresDb.open({ databaseUrl: databaseUrl(BASE, name), poolSize: 1 });
  try {
    await migrate(db);
    const pid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
    const on: { perSec: number; cpuUsPerTask: number | undefined }[] = [];
    const off: typeof on = [];
    await drain(db, pid); // warm-up
    for (let i = 0; i < ROUNDS; i++) {
      await db.exec(TRIGGERS('ENABLE'));
      on.push(await drain(db, pid));
      await db.exec(TRIGGERS('DISABLE'));
      off.push(await drain(db, pid));
    }
    await db.exec(TRIGGERS('ENABLE'));
    const rate = (xs: typeof on): number => median(xs.map((x) => x.perSec));
    const cpu = (xs: typeof on): number | undefined =>
      xs.every((x) => x.cpuUsPerTask !== undefined) ? median(xs.map((x) => x.cpuUsPerTask as number)) : undefined;
    const cOn = cpu(on);
    const cOff = cpu(off);
    return {
      tasks: TASKS,
      batch: BATCH,
      rounds: ROUNDS,
      withTriggerTasksPerSec: Math.round(rate(on)),
      withoutTriggerTasksPerSec: Math.round(rate(off)),
      rateRatio: Number((rate(on) / rate(off)).toFixed(3)),
      serverCpuUsPerTask:
        cOn !== undefined && cOff !== undefined
          ? { withTrigger: Number(cOn.toFixed(1)), withoutTrigger: Number(cOff.toFixed(1)), ratio: Number((cOn / cOff).toFixed(3)) }
          : 'not measured (server not on this machine)',
      each: { on: on.map((x) => Math.round(x.perSec)), off: off.map((x) => Math.round(x.perSec)) },
    };
  } finally {
    await db.close();
    await adminStatement(BASE, `DROP DATABASE ${name}`);
  }
}

/** Counts statements sent through it (round trips: every statement is one). */
function counting(db: Db): { db: Db; count: () => number } {
  let n = 0;
  const wrap = Object.create(db) as Db & { query: Queryable['query']; prepared?: Queryable['prepared'] };
  wrap.query = (sql, params) => {
    n++;
    return db.query(sql, params);
  };
  if (db.prepared) {
    const p = db.prepared.bind(db);
    wrap.prepared = (name, sql, params) => {
      n++;
      return p(name, sql, params);
    };
  }
  return { db: wrap, count: () => n };
}

async function stepCost(db: Db): Promise<Record<string, unknown>> {
  const c = new TaskCoordinator(db);
  const task = await c.submit({ type: 'bench-steps' });
  await db.query("UPDATE tasks SET status = 'running', owner_id = 'bench', attempts = 1 WHERE id = $1", [task.id]);
  const wrapped = counting(db);
  const d = new Durable(wrapped.db, task.id, 'bench');
  await d.step('warm', () => 0);
  const before = wrapped.count();
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) await d.step('s', () => i);
  const ms = (performance.now() - t0) / STEPS;
  const trips = (wrapped.count() - before) / STEPS;
  // Replay: a second execution of the same task returns every stored step.
  const replay = counting(db);
  const r = new Durable(replay.db, task.id, 'bench');
  const t1 = performance.now();
  await r.step('warm', () => 0);
  for (let i = 0; i < STEPS; i++) await r.step('s', () => i);
  const replayMs = (performance.now() - t1) / (STEPS + 1);
  return {
    steps: STEPS,
    msPerStep: Number(ms.toFixed(3)),
    roundTripsPerStep: trips,
    replayMsPerStep: Number(replayMs.toFixed(4)),
    replayRoundTrips: replay.count(),
  };
}

async function sleepResume(db: Db): Promise<Record<string, unknown>> {
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const d = new Dispatcher(db, {
    concurrency: 1,
    pollIntervalMs: 5,
    handlers: {
      'bench-sleeper': async (_t, ctx) => {
        for (let i = 0; i < SLEEPS; i++) await ctx.sleepFor(0.001);
        return 'ok';
      },
    },
    onEvent: (e) => {
      if (e.kind === 'completed') done();
    },
  });
  await d.start();
  const c = new TaskCoordinator(db);
  const t0 = performance.now();
  await c.submit({ type: 'bench-sleeper' });
  await finished;
  const ms = (performance.now() - t0) / SLEEPS;
  await d.stop({ graceMs: 0 });
  return { cycles: SLEEPS, msPerSleepResume: Number(ms.toFixed(2)), note: 'includes the dispatcher poll interval (5 ms) between due and claimed' };
}

async function backend(kind: 'pglite' | 'postgres'): Promise<Record<string, unknown>> {
  if (kind === 'postgres') {
    if (!BASE) return { skipped: 'needs DATABASE_URL' };
    const name = `seedcore_bench_durable_${randomBytes(4).toString('hex')}`;
    await adminStatement(BASE, `CREATE DATABASE ${name}`);
    const db = await PostgresDb.open({ databaseUrl: databaseUrl(BASE, name), poolSize: 4 });
    try {
      await migrate(db);
      return { step: await stepCost(db), sleepResume: await sleepResume(db) };
    } finally {
      await db.close();
      await adminStatement(BASE, `DROP DATABASE ${name}`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'seedcore-bench-durable-'));
  const db = await PGliteDb.open({ dataDir: dir });
  try {
    await migrate(db);
    return { step: await stepCost(db), sleepResume: await sleepResume(db) };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const out = { hotPath: await hotPath(), pglite: await backend('pglite'), postgres: await backend('postgres') };
console.log(JSON.stringify(out, null, 2));
