/**
 * Routed vs unrouted drain, same database, same run: TASKS no-op tasks drained by a worker
 * that is no organ (unrouted), then TASKS tasks that each require one capability
 * ('work>=1') drained by an organ worker providing work@1.2 (routed). Rounds alternate
 * unrouted/routed so load on the machine hits both alike; the JSON reports each round and
 * the ratio of the medians (target: routed ≥ 0.85 × unrouted).
 *
 *   DATABASE_URL=postgres://… npm run build && node dist/bench/queue-routed.js
 *   env: BENCH_TASKS (20000), BENCH_ROUNDS (3), BENCH_CONCURRENCY (16)
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { PostgresDb, type Db } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { Dispatcher } from '../src/tasks/dispatcher.js';
import { submitTasks } from '../src/tasks/submit.js';
import { adminStatement, databaseUrl } from './scratch-db.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function drain(db: Db, routed: boolean): Promise<number> {
  for (let i = 0; i < TASKS; i += 1000) {
    const n = Math.min(1000, TASKS - i);
    await submitTasks(
      db,
      Array.from({ length: n }, () => (routed ? { type: 'noop', requires: ['work>=1'] } : { type: 'noop' })),
    );
  }
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const d = new Dispatcher(db, {
    handlers: {
      noop: async () => {
        if (++done === TASKS) finish();
        return null;
      },
    },
    concurrency: CONCURRENCY,
    listen: false,
    pollIntervalMs: 50,
    schedules: false,
    ...(routed ? { organ: { id: 'bench-organ', capabilities: [{ name: 'work', version: '1.2' }] } } : {}),
  });
  const t0 = performance.now();
  await d.start();
  await all;
  await d.stop();
  const s = (performance.now() - t0) / 1000;
  const left = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status <> 'completed'");
  if (left.rows[0]?.n !== 0) throw new Error(`${left.rows[0]?.n} tasks not completed`);
  await db.query('TRUNCATE tasks CASCADE');
  return Math.round(TASKS / s);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is required');
  const name = `seedcore_bench_routed_${randomBytes(3).toString('hex')}`;
  await adminStatement(base, `CREATE DATABASE ${name}`);
  const db = await PostgresDb.open({ databaseUrl: databaseUrl(base, name), poolSize: 8 });
  try {
    await migrate(db);
    const unrouted: number[] = [];
    const routed: number[] = [];
    const load = [loadavg()[0]];
    for (let r = 0; r < ROUNDS; r++) {
      unrouted.push(await drain(db, false));
      routed.push(await drain(db, true));
      load.push(loadavg()[0]);
    }
    const result = {
      bench: 'queue-routed',
      tasks: TASKS,
      concurrency: CONCURRENCY,
      unroutedDrainPerSec: unrouted,
      routedDrainPerSec: routed,
      medianUnrouted: median(unrouted),
      medianRouted: median(routed),
      ratio: Number((median(routed) / median(unrouted)).toFixed(3)),
      loadAverage1m: load.map((x) => Number(x?.toFixed(1))),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await db.close();
    await adminStatement(base, `DROP DATABASE IF EXISTS ${name}`);
  }
}

await main();
