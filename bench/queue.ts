/**
 * Queue benchmark: SeedCore's dispatcher vs graphile-worker 0.17 (localQueue
 * batching + batched completion) vs pg-boss 10 (batch fetch), same PostgreSQL server, same
 * run, a fresh database per system. Also the embedded PGlite figure for SeedCore.
 *
 * For each system:
 *   enqueue  — TASKS no-op jobs inserted in batch calls of 1,000 (jobs/s)
 *   drain    — those TASKS pre-inserted jobs processed with concurrency 16, from start() until
 *              the last handler ran and the worker stopped gracefully (so every completion is
 *              written) (jobs/s)
 *   latency  — LATENCY_SAMPLES single jobs enqueued every LATENCY_GAP_MS ms on idle workers;
 *              enqueue → handler start, p50 / p99 (ms); SeedCore's once its listener has
 *              found out whether notifications arrive
 *   cost     — per drained task: CPU of all postgres processes (local server), WAL bytes, this
 *              process's CPU, and with pg_stat_statements preloaded the top statements
 *              (bench/drain-probe.ts)
 *
 *   DATABASE_URL=postgres://… npm run bench:queue
 * SeedCore also runs with named prepared statements (seedcore-prepared, SEEDCORE_PREPARED_STATEMENTS=on)
 * and through a PgBouncer in transaction mode that this benchmark starts on a free port
 * (Debian's pgbouncer): seedcore-pgbouncer with DATABASE_URL only (notifications do not
 * arrive, pickup is by polling) and seedcore-pgbouncer-listen with a direct listen URL.
 *
 *   env: BENCH_ROUNDS (3, medians reported), BENCH_TASKS (30000; a list such as 30000,100000 drains each),
 *        BENCH_MODES (batch,default: see MODES), BENCH_IDS (v7: client-given time-ordered ids),
 *        BENCH_CONCURRENCY (16), BENCH_LATENCY_SAMPLES (300),
 *        BENCH_LATENCY_GAP_MS (20), BENCH_PGLITE_TASKS (10000), BENCH_BATCH (500),
 *        BENCH_SYSTEMS (seedcore,seedcore-prepared,pgbouncer,pgbouncer-listen,graphile,pgboss,pglite; also
 *        seedcore-runs-off: SeedCore with `seedcore.task_runs = off` on its database, no run history),
 *        BENCH_SEEDCORE_SQL (experiments: SQL run on SeedCore's database after migrating, e.g. an index variant),
 *        BENCH_WARM (small: SeedCore's connections each end one single-task run before the drain, see WARM_SMALL)
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { PGliteDb, PostgresDb, type Db, type PostgresOpenOptions } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { DEFAULTS } from '../src/tasks/defaults.js';
import { Dispatcher } from '../src/tasks/dispatcher.js';
import { uuidv7 } from '../src/tasks/ids.js';
import { startDrainProbe, type DrainCost } from './drain-probe.js';
import { runGraphile, runPgBoss } from './queue-peers.js';
import { CHUNK, measureLatency, sleep, warmConnections, type SystemResult } from './queue-common.js';
import { adminStatement, databaseUrl } from './scratch-db.js';
import { startPgBouncer, type PgBouncer } from '../test/helpers/pgbouncer.js';

const SERVER = process.env.DATABASE_URL;
/** Task counts drained, each a configuration of its own (e.g. BENCH_TASKS=30000,100000). */
const TASK_COUNTS = (process.env.BENCH_TASKS ?? '30000').split(',').map(Number);
/**
 * Settings: `batch` — concurrency BENCH_CONCURRENCY and batch BENCH_BATCH for every system;
 * `default` — what a user gets without tuning: `seedcore worker` (DispatcherOptions defaults)
 * vs graphile-worker's defaults (no local queue, one completion per job) at the same
 * concurrency (ours, 8; graphile-worker's own default, 1, would make the ratio meaningless).
 */
const MODES = (process.env.BENCH_MODES ?? 'batch,default').split(',') as Mode[];
type Mode = 'batch' | 'default';
/**
 * `v7`: SeedCore's tasks submitted with client-given time-ordered ids (uuidv7(), src/tasks/ids.ts)
 * instead of the library's default random ids.
 */
const V7_IDS = process.env.BENCH_IDS === 'v7';
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300);
const GAP_MS = Number(process.env.BENCH_LATENCY_GAP_MS ?? 20);
const PGLITE_TASKS = Number(process.env.BENCH_PGLITE_TASKS ?? 10_000);
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'seedcore,seedcore-prepared,pgbouncer,pgbouncer-listen,graphile,pgboss,pglite').split(',');
/**
 * Batch size, the same for every system: SeedCore's prefetch (tasks claimed ahead of free
 * slots), graphile-worker's localQueue.size, pg-boss's batchSize.
 */
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Connections of SeedCore's pool. */
const POOL_SIZE = 10;

/**
 * A fresh database on the server for one system; dropped by the returned function. `settings`:
 * database-level settings (`ALTER DATABASE … SET`), in effect for every connection opened after.
 */
async function freshDatabase(tag: string, settings: Record<string, string> = {}): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = SERVER as string;
  const name = `bench_queue_${tag}_${randomBytes(3).toString('hex')}`;
  await adminStatement(base, `CREATE DATABASE ${name}`);
  for (const [k, v] of Object.entries(settings)) await adminStatement(base, `ALTER DATABASE ${name} SET ${k} = ${v}`);
  return { url: databaseUrl(base, name), drop: () => adminStatement(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Experiments only: SQL run on SeedCore's database after migrating (e.g. an index variant). */
const SEEDCORE_SQL = process.env.BENCH_SEEDCORE_SQL;
/**
 * `small`: before the drain (after the enqueue and ANALYZE), every connection of SeedCore's pool
 * ends the run of one task of its own, as a worker that picked up single tasks before a burst did, so each connection's
 * kept plan of the run-history insert is the one made for one row.
 */
const WARM_SMALL = process.env.BENCH_WARM === 'small';

/** `url`: the server database, to measure what the drain costs it (absent on PGlite). */
async function runSeedCore(db: Db, tasks: number, url?: string, mode: Mode = 'batch', withLatency = true): Promise<SystemResult> {
  await migrate(db);
  if (SEEDCORE_SQL) await db.exec(SEEDCORE_SQL);
  const coordinator = new TaskCoordinator(db);
  // enqueue
  let t0 = performance.now();
  for (let i = 0; i < tasks; i += CHUNK) {
    await coordinator.submitMany(Array.from({ length: Math.min(CHUNK, tasks - i) }, () => (V7_IDS ? { id: uuidv7(), type: 'noop' } : { type: 'noop' })));
  }
  const enqueueMs = performance.now() - t0;
  // As autovacuum would after a bulk insert (done for every system).
  await db.exec('ANALYZE');
  // After ANALYZE, which makes every connection plan the trigger's statements again.
  if (WARM_SMALL && db instanceof PostgresDb) await warmConnections(db, POOL_SIZE);
  // drain
  let count = 0;
  let allRan!: () => void;
  const ran = new Promise<void>((r) => (allRan = r));
  const dispatcher = new Dispatcher(db, {
    handlers: {
      noop: async () => {
        if (++count === tasks) allRan();
        return null;
      },
    },
    ...(mode === 'batch' ? { concurrency: CONCURRENCY, prefetch: BATCH } : {}),
  });
  const probe = url ? await startDrainProbe(url) : undefined;
  t0 = performance.now();
  await dispatcher.start();
  await ran;
  await dispatcher.stop();
  const drainMs = performance.now() - t0;
  const cost = await probe?.stop(tasks);
  const left = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status <> 'completed'");
  if ((left.rows[0]?.n ?? -1) !== 0) throw new Error(`seedcore: ${left.rows[0]?.n} tasks not completed after the drain`);
  const runs = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM task_runs WHERE type <> 'warm'");
  const summary = {
    taskRuns: runs.rows[0]?.n ?? 0,
    enqueuePerSec: Math.round((tasks / enqueueMs) * 1000),
    drainPerSec: Math.round((tasks / drainMs) * 1000),
    drainMs: Math.round(drainMs),
    ...(cost ? { cost } : {}),
  };
  if (!withLatency) return { ...summary, latencyMs: { p50: NaN, p99: NaN, samples: 0 } };
  // latency, of a worker past its start: a drain now ends before the listener's notification
  // probe (2 s) has its verdict, and until then a worker behind a transaction-mode pooler polls
  // at its normal interval (1 s), not the shorter one it uses without notifications
  await db.notificationsWork();
  const started = new Map<number, number>();
  const latencyWorker = new Dispatcher(db, {
    handlers: {
      ping: async (task) => {
        started.set(task.params.sentAt as number, performance.now());
        return null;
      },
    },
    concurrency: CONCURRENCY,
  });
  await latencyWorker.start();
  await sleep(200);
  const latency = await measureLatency(async (sentAt) => {
    await coordinator.submit({ type: 'ping', params: { sentAt } });
  }, started);
  await latencyWorker.stop();
  return { ...summary, latencyMs: latency };
}

/** Median of each numeric figure over the rounds of one system. */
function median(rs: SystemResult[]): SystemResult & { rounds: number; drainPerSecAll: number[] } {
  const med = (xs: number[]): number => {
    const v = [...xs].sort((a, b) => a - b);
    return v[Math.floor((v.length - 1) / 2)] as number;
  };
  return {
    enqueuePerSec: med(rs.map((r) => r.enqueuePerSec)),
    drainPerSec: med(rs.map((r) => r.drainPerSec)),
    drainMs: med(rs.map((r) => r.drainMs)),
    latencyMs: { p50: med(rs.map((r) => r.latencyMs.p50)), p99: med(rs.map((r) => r.latencyMs.p99)), samples: rs[0]?.latencyMs.samples ?? 0 },
    rounds: rs.length,
    drainPerSecAll: rs.map((r) => r.drainPerSec),
    ...(rs.some((r) => r.cost) ? { cost: medianCost(rs.flatMap((r) => (r.cost ? [r.cost] : []))) } : {}),
  };
}

/** Median of each cost figure; the statements of the last round. */
function medianCost(cs: DrainCost[]): DrainCost {
  const med = (xs: number[]): number => {
    const v = [...xs].sort((a, b) => a - b);
    return v[Math.floor((v.length - 1) / 2)] as number;
  };
  const some = (xs: (number | null)[]): number | null => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? med(v) : null;
  };
  const last = cs[cs.length - 1];
  return {
    dbCpuUsPerTask: some(cs.map((c) => c.dbCpuUsPerTask)),
    walBytesPerTask: med(cs.map((c) => c.walBytesPerTask)),
    walFpiPerTask: some(cs.map((c) => c.walFpiPerTask)),
    walRecordsPerTask: some(cs.map((c) => c.walRecordsPerTask)),
    nodeCpuUsPerTask: med(cs.map((c) => c.nodeCpuUsPerTask)),
    ...(last?.statements ? { statements: last.statements } : {}),
  };
}

/** One system of one configuration: runs a round and returns its figures. */
type Run = (tasks: number, mode: Mode, withLatency: boolean) => Promise<SystemResult>;

async function main(): Promise<void> {
  const os = await import('node:os');
  const load = os.loadavg();
  /** [name, run, modes it runs in]: PgBouncer and pg-boss only with the common batch. */
  const systems: [string, Run, Mode[]][] = [];
  if (SERVER) {
    /**
     * SeedCore on a fresh database, directly or through a PgBouncer started for the run;
     * `options` gets the direct URL of that database (e.g. to LISTEN there).
     */
    const seedcoreOn =
      (
        throughPgBouncer: boolean,
        options: (directUrl: string) => Omit<PostgresOpenOptions, 'databaseUrl'> = () => ({}),
        settings: Record<string, string> = {},
      ): Run =>
      async (tasks, mode, withLatency) => {
        const { url, drop } = await freshDatabase('seedcore', settings);
        let bouncer: PgBouncer | undefined;
        try {
          bouncer = throughPgBouncer ? await startPgBouncer(SERVER) : undefined;
          const db = await PostgresDb.open({ databaseUrl: bouncer ? bouncer.url(url) : url, poolSize: POOL_SIZE, preparedStatements: false, ...options(url) });
          try {
            const r = await runSeedCore(db, tasks, url, mode, withLatency);
            if (settings['seedcore.task_runs'] === 'off' && r.taskRuns !== 0) throw new Error(`run history off, yet ${r.taskRuns} task_runs rows`);
            return r;
          } finally {
            await db.close();
          }
        } finally {
          await bouncer?.stop();
          await drop();
        }
      };
    if (SYSTEMS.includes('seedcore')) systems.push(['seedcore', seedcoreOn(false), ['batch', 'default']]);
    if (SYSTEMS.includes('seedcore-prepared'))
      systems.push(['seedcore-prepared', seedcoreOn(false, () => ({ preparedStatements: true })), ['batch', 'default']]);
    // The run history off (the statement trigger still fires, no task_runs row is written):
    // what the history costs a drain, same run as `seedcore`.
    if (SYSTEMS.includes('seedcore-runs-off'))
      systems.push(['seedcore-runs-off', seedcoreOn(false, () => ({}), { 'seedcore.task_runs': 'off' }), ['batch', 'default']]);
    if (SYSTEMS.includes('pgbouncer')) systems.push(['seedcore-pgbouncer', seedcoreOn(true), ['batch']]);
    if (SYSTEMS.includes('pgbouncer-listen')) systems.push(['seedcore-pgbouncer-listen', seedcoreOn(true, (url) => ({ listenUrl: url })), ['batch']]);
    if (SYSTEMS.includes('graphile'))
      systems.push([
        'graphile-worker',
        async (tasks, mode, withLatency) => {
          const { url, drop } = await freshDatabase('graphile');
          try {
            return mode === 'batch'
              ? await runGraphile(url, tasks, CONCURRENCY, BATCH, withLatency)
              : await runGraphile(url, tasks, DEFAULTS.concurrency, null, withLatency);
          } finally {
            await drop();
          }
        },
        ['batch', 'default'],
      ]);
    if (SYSTEMS.includes('pgboss'))
      systems.push([
        'pg-boss',
        async (tasks) => {
          const { url, drop } = await freshDatabase('pgboss');
          try {
            return await runPgBoss(url, tasks, CONCURRENCY, BATCH);
          } finally {
            await drop();
          }
        },
        ['batch'],
      ]);
  } else process.stderr.write('DATABASE_URL is not set: only the PGlite figure is measured\n');
  if (SYSTEMS.includes('pglite'))
    systems.push([
      'seedcore-pglite',
      async (_tasks, mode, withLatency) => {
        const db = await PGliteDb.open({});
        try {
          return await runSeedCore(db, PGLITE_TASKS, undefined, mode, withLatency);
        } finally {
          await db.close();
        }
      },
      ['batch'],
    ]);
  // Configurations: each mode at each task count. Pickup latency is measured in the first one only.
  const configs = MODES.flatMap((mode) => TASK_COUNTS.map((tasks) => ({ mode, tasks, key: `${mode}/${tasks}` })));
  // Rounds interleave the systems (order rotated each round) so that a burst of load from
  // elsewhere on the machine does not land on one system only; medians are reported.
  const raw = new Map<string, SystemResult[]>();
  const errors: Record<string, string> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [ci, config] of configs.entries()) {
      const inMode = systems.filter(([, , modes]) => modes.includes(config.mode));
      const order = inMode.map((_, i) => inMode[(i + round) % inMode.length] as (typeof systems)[number]);
      for (const [name, fn] of order) {
        if (name === 'seedcore-pglite' && (round > 0 || ci > 0)) continue; // one embedded round is enough (and slow)
        const key = `${config.key} ${name}`;
        process.stderr.write(`round ${round + 1}/${ROUNDS} ${key} … `);
        try {
          const r = await fn(config.tasks, config.mode, ci === 0);
          raw.set(key, [...(raw.get(key) ?? []), r]);
          const load1 = Math.round((os.loadavg()[0] ?? NaN) * 100) / 100;
          process.stderr.write(`${JSON.stringify({ ...r, cost: r.cost ? { ...r.cost, statements: undefined } : undefined, load1 })}\n`);
        } catch (e) {
          errors[key] = e instanceof Error ? e.message : String(e);
          process.stderr.write(`failed: ${errors[key]}\n`);
        }
      }
    }
  }
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  const out = {
    machine: { cpus: os.cpus().length, loadavgAtStart: load.map(r2), loadavgAtEnd: os.loadavg().map(r2), node: process.version },
    settings: {
      tasks: TASK_COUNTS,
      modes: MODES,
      concurrency: { batch: CONCURRENCY, default: DEFAULTS.concurrency },
      batch: { batch: BATCH, default: `seedcore prefetch ${DEFAULTS.concurrency * DEFAULTS.prefetchPerSlot}; graphile-worker no local queue` },
      ids: V7_IDS ? 'client-given UUIDv7' : 'library default (random v4)',
      rounds: ROUNDS,
      latencySamples: SAMPLES,
      latencyGapMs: GAP_MS,
      pgliteTasks: PGLITE_TASKS,
    },
    configs: configs.map((config) => {
      const results: Record<string, ReturnType<typeof median>> = {};
      for (const [name] of systems) {
        const rs = raw.get(`${config.key} ${name}`);
        if (rs) results[name] = median(rs);
      }
      const sc = results.seedcore;
      const ratio = (other: string): number | null => {
        const o = results[other];
        return sc && o ? r2(sc.drainPerSec / o.drainPerSec) : null;
      };
      const costRatio = (k: 'dbCpuUsPerTask' | 'walBytesPerTask'): number | null => {
        const a = sc?.cost?.[k];
        const b = results['graphile-worker']?.cost?.[k];
        return typeof a === 'number' && typeof b === 'number' && b > 0 ? r2(a / b) : null;
      };
      return {
        mode: config.mode,
        tasks: config.tasks,
        results,
        ratios: {
          drainVsGraphileWorker: ratio('graphile-worker'),
          drainVsPgBoss: ratio('pg-boss'),
          // Through PgBouncer vs direct, same run (target: >= 0.8).
          pgbouncerDrainVsDirect: results['seedcore-pgbouncer'] && sc ? r2(results['seedcore-pgbouncer'].drainPerSec / sc.drainPerSec) : null,
          pgbouncerListenDrainVsDirect:
            results['seedcore-pgbouncer-listen'] && sc ? r2(results['seedcore-pgbouncer-listen'].drainPerSec / sc.drainPerSec) : null,
          // Run history on vs off (target: >= 0.95).
          runsOnDrainVsOff: results['seedcore-runs-off'] && sc ? r2(sc.drainPerSec / results['seedcore-runs-off'].drainPerSec) : null,
          runsOnDbCpuVsOff:
            typeof sc?.cost?.dbCpuUsPerTask === 'number' && typeof results['seedcore-runs-off']?.cost?.dbCpuUsPerTask === 'number'
              ? r2(sc.cost.dbCpuUsPerTask / (results['seedcore-runs-off'].cost.dbCpuUsPerTask as number))
              : null,
          preparedDrainVsUnprepared: results['seedcore-prepared'] && sc ? r2(results['seedcore-prepared'].drainPerSec / sc.drainPerSec) : null,
          dbCpuPerTaskVsGraphileWorker: costRatio('dbCpuUsPerTask'),
          walPerTaskVsGraphileWorker: costRatio('walBytesPerTask'),
        },
      };
    }),
    ...(Object.keys(errors).length ? { errors } : {}),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
