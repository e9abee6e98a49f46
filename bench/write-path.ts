/**
 * Write-path experiment: how fast can the tasks table move tasks at all? Raw
 * batched claim+complete loops (no handlers, no dispatcher), same server, same run:
 *
 *   seedcore  — today's schema: the dispatcher's claim (claim.ts) and batched completion; both
 *               updates are non-HOT (status is in partial-index predicates).
 *   side      — a prototype of the alternative: tasks keeps only indexes on columns a claim or
 *               completion never changes (pkey, created_at, type, domain) with fillfactor 40,
 *               the ready set in task_queue (claim = DELETE … SKIP LOCKED) and the leases in
 *               task_leases, so the two tasks updates can be HOT.
 *   graphile  — graphile-worker 0.17's own table and the shape of its batched fetch and delete.
 *
 * Prints tasks/s, WAL bytes and database CPU per task, and the share of HOT updates. Not a
 * product path: the prototype omits dedup, expiry, limits and plain-SQL compatibility.
 *
 *   DATABASE_URL=postgres://… npm run bench:write-path      # env BENCH_TASKS, BENCH_ROUNDS
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { makeWorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { PostgresDb } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { claimTasks } from '../src/tasks/claim.js';
import { startDrainProbe, type DrainCost } from './drain-probe.js';
import { RAW_COMPLETE, adminStatement, databaseUrl } from './scratch-db.js';

const BASE = process.env.DATABASE_URL;
const TASKS = Number(process.env.BENCH_TASKS ?? 30_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH = 500;
const LOOPS = 2;

type Variant = 'seedcore' | 'side' | 'graphile';

const SIDE_SCHEMA = `
DROP INDEX idx_tasks_claim, idx_tasks_claim_routed, idx_tasks_running, idx_tasks_status, idx_tasks_dedup, idx_tasks_expires;
ALTER TABLE tasks SET (fillfactor = 40);
CREATE TABLE task_queue (id uuid PRIMARY KEY, queue text NOT NULL, priority taskpriority NOT NULL, due timestamptz NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX ON task_queue (queue, priority, due, created_at);
CREATE TABLE task_leases (id uuid PRIMARY KEY, owner_id text NOT NULL, lease_expires_at timestamptz NOT NULL);
CREATE INDEX ON task_leases (lease_expires_at);`;

const SIDE_CLAIM = `
WITH c AS (
  DELETE FROM task_queue q
   WHERE q.id IN (SELECT id FROM task_queue WHERE queue = 'default' AND priority = 'normal' AND due <= now()
                   ORDER BY due, created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
  RETURNING q.id),
l AS (INSERT INTO task_leases (id, owner_id, lease_expires_at) SELECT id, $1, now() + interval '10 minutes' FROM c)
UPDATE tasks t SET status = 'running', owner_id = $1, locked_by = $1, locked_at = now(),
       lease_expires_at = now() + interval '10 minutes', last_heartbeat = now(), attempts = t.attempts + 1, updated_at = now()
  FROM c WHERE t.id = c.id RETURNING t.id::text AS id`;

const SIDE_COMPLETE = `
WITH d AS (DELETE FROM task_leases WHERE id = ANY($1::uuid[]) AND owner_id = $2 RETURNING id)
UPDATE tasks t SET status = 'completed', result = '{}'::jsonb, error = NULL, owner_id = NULL, locked_by = NULL,
       locked_at = NULL, lease_expires_at = NULL, updated_at = now()
  FROM d WHERE t.id = d.id AND t.status = 'running'`;

const GRAPHILE_CLAIM = `
WITH j AS (SELECT id FROM graphile_worker._private_jobs jobs
            WHERE is_available = true AND run_at <= now() ORDER BY priority, run_at LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE graphile_worker._private_jobs AS jobs
   SET revision = jobs.revision + 1, attempts = jobs.attempts + 1, locked_by = $1, locked_at = now()
  FROM j WHERE jobs.id = j.id RETURNING jobs.id::text AS id`;

const GRAPHILE_COMPLETE = 'DELETE FROM graphile_worker._private_jobs AS jobs USING unnest($1::bigint[]) n(n) WHERE id = n';

/** One claim+complete loop on an open connection until nothing is left; returns tasks completed. */
async function loop(c: pg.Client, owner: string, variant: Variant): Promise<number> {
  const q = {
    query: async <R extends object>(sql: string, params?: readonly unknown[]) => {
      const r = await c.query(sql, params as unknown[]);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
  };
  let done = 0;
  for (;;) {
    let ids: string[];
    if (variant === 'seedcore')
      ids = (await claimTasks(q, { owner, limit: BATCH, types: ['noop'], queues: ['default'], leaseSeconds: 600, agingSeconds: 300, limitsLocked: false })).map(
        (x) => x.id,
      );
    else
      ids = (
        await c.query<{ id: string }>({ name: `${variant}_claim`, text: variant === 'side' ? SIDE_CLAIM : GRAPHILE_CLAIM, values: [owner, BATCH] })
      ).rows.map((x) => x.id);
    if (ids.length === 0) return done;
    const text = variant === 'seedcore' ? RAW_COMPLETE : variant === 'side' ? SIDE_COMPLETE : GRAPHILE_COMPLETE;
    const values = variant === 'graphile' ? [ids] : [ids, owner];
    done += (await c.query({ name: `${variant}_complete`, text, values })).rowCount ?? 0;
  }
}

async function load(url: string, variant: Variant): Promise<void> {
  if (variant === 'graphile') {
    const utils = await makeWorkerUtils({ connectionString: url });
    try {
      await utils.migrate();
      for (let i = 0; i < TASKS; i += 1000) await utils.addJobs(Array.from({ length: Math.min(1000, TASKS - i) }, () => ({ identifier: 'noop', payload: {} })));
    } finally {
      await utils.release();
    }
    return;
  }
  const db = await PostgresDb.open({ databaseUrl: url, poolSize: 1 });
  try {
    await migrate(db);
    if (variant === 'side') await db.exec(SIDE_SCHEMA);
    await db.query(`INSERT INTO tasks (type, status, params) SELECT 'noop', 'queued', '{}'::jsonb FROM generate_series(1, $1)`, [TASKS]);
    if (variant === 'side') await db.exec('INSERT INTO task_queue SELECT id, queue, priority, coalesce(run_after, created_at), created_at FROM tasks');
  } finally {
    await db.close();
  }
}

interface RunResult {
  tasksPerSec: number;
  cost: DrainCost;
  hotShare: number | null;
}

async function run(variant: Variant): Promise<RunResult> {
  const name = `seedcore_bench_wp_${variant}_${randomBytes(3).toString('hex')}`;
  await adminStatement(BASE as string, `CREATE DATABASE ${name}`);
  const url = databaseUrl(BASE as string, name);
  const clients = Array.from({ length: LOOPS }, () => new pg.Client({ connectionString: url }));
  try {
    await load(url, variant);
    await adminStatement(url, 'VACUUM ANALYZE');
    await Promise.all(clients.map((c) => c.connect()));
    // The loops' connections stay open until the probe has read their CPU time.
    const probe = await startDrainProbe(url);
    const t0 = performance.now();
    const counts = await Promise.all(clients.map((c, i) => loop(c, `w${i}`, variant)));
    const seconds = (performance.now() - t0) / 1000;
    const total = counts.reduce((a, b) => a + b, 0);
    if (total !== TASKS) throw new Error(`${variant}: completed ${total} of ${TASKS}`);
    const cost = await probe.stop(total);
    let hotShare: number | null = null;
    if (variant !== 'graphile') {
      await Promise.all(clients.map((c) => c.end()));
      clients.length = 0;
      await new Promise((r) => setTimeout(r, 1200)); // statistics reach pg_stat_* about once a second
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const r = await c.query<{ upd: string; hot: string }>("SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'tasks'");
      await c.end();
      hotShare = Math.round((Number(r.rows[0]?.hot) / Number(r.rows[0]?.upd)) * 100) / 100;
    }
    return { tasksPerSec: Math.round(total / seconds), cost, hotShare };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await adminStatement(BASE as string, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

interface Summary {
  tasksPerSec: number;
  tasksPerSecAll: number[];
  walBytesPerTask: number;
  dbCpuUsPerTask: number | null;
  hotShare: number | null;
}

async function main(): Promise<void> {
  if (!BASE) throw new Error('bench:write-path needs DATABASE_URL (run scripts/setup-postgres.sh)');
  const variants: Variant[] = ['seedcore', 'side', 'graphile'];
  const all: Record<Variant, RunResult[]> = { seedcore: [], side: [], graphile: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const r = await run(v);
      all[v].push(r);
      process.stderr.write(`round ${round + 1} ${v}: ${JSON.stringify(r)}\n`);
    }
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
  const summary = {} as Record<Variant, Summary>;
  for (const v of variants) {
    const rs = all[v];
    summary[v] = {
      tasksPerSec: med(rs.map((r) => r.tasksPerSec)),
      tasksPerSecAll: rs.map((r) => r.tasksPerSec),
      walBytesPerTask: med(rs.map((r) => r.cost.walBytesPerTask)),
      dbCpuUsPerTask: rs.every((r) => r.cost.dbCpuUsPerTask !== null) ? med(rs.map((r) => r.cost.dbCpuUsPerTask as number)) : null,
      hotShare: v === 'graphile' ? null : med(rs.map((r) => r.hotShare ?? 0)),
    };
  }
  const ratio = (a: Variant, b: Variant): number => Math.round((summary[a].tasksPerSec / summary[b].tasksPerSec) * 100) / 100;
  const out = {
    benchmark: 'tasks write path: raw batched claim+complete loops',
    tasks: TASKS,
    batch: BATCH,
    loops: LOOPS,
    rounds: ROUNDS,
    results: summary,
    ratios: { seedcoreVsGraphile: ratio('seedcore', 'graphile'), sideVsSeedcore: ratio('side', 'seedcore'), sideVsGraphile: ratio('side', 'graphile') },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
