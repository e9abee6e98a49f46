/**
 * Index-set benchmark: the raw batched claim+complete loop on the tasks table with
 * the original SeedCore's 12 task indexes vs our lean partial set, same server, same run.
 * Prints JSON. Needs DATABASE_URL (a PostgreSQL server with pgvector).
 *
 *   npm run bench:indexes            # 30k tasks, batches of 500, 2 loops
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresDb } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { claimTasks } from '../src/tasks/claim.js';
import { RAW_COMPLETE, adminStatement, databaseUrl } from './scratch-db.js';

const URL_ = process.env.DATABASE_URL;
const TASKS = Number(process.env.BENCH_TASKS ?? 30_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const LOOPS = Number(process.env.BENCH_LOOPS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const ORIGINAL_INDEXES = `
DROP INDEX IF EXISTS idx_tasks_claim, idx_tasks_running, idx_tasks_status, idx_tasks_created_at, idx_tasks_type, idx_tasks_domain, idx_tasks_dedup, idx_tasks_expires;
CREATE INDEX idx_tasks_status ON tasks (status);
CREATE INDEX idx_tasks_created_at ON tasks (created_at);
CREATE INDEX idx_tasks_run_after ON tasks (run_after);
CREATE INDEX idx_tasks_locked_at ON tasks (locked_at);
CREATE INDEX idx_tasks_type ON tasks (type);
CREATE INDEX idx_tasks_domain ON tasks (domain);
CREATE INDEX idx_tasks_claim ON tasks (status, run_after, created_at) WHERE status IN ('queued','failed','retry');
CREATE INDEX idx_tasks_owner_id ON tasks (owner_id);
CREATE INDEX idx_tasks_lease_expires_at ON tasks (lease_expires_at);
CREATE INDEX idx_tasks_last_heartbeat ON tasks (last_heartbeat);
CREATE INDEX idx_tasks_stale_running ON tasks (status, updated_at, last_heartbeat, lease_expires_at) WHERE status = 'running';
CREATE INDEX idx_tasks_owner_status ON tasks (owner_id, status, last_heartbeat) WHERE owner_id IS NOT NULL;`;

const CLAIM = `
WITH c AS (
  SELECT id FROM tasks
  WHERE status IN ('queued','retry') AND (run_after IS NULL OR run_after <= now())
  ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE tasks t SET status = 'running', owner_id = $1, locked_by = $1, locked_at = now(),
  lease_expires_at = now() + interval '10 minutes', last_heartbeat = now(), attempts = t.attempts + 1, updated_at = now()
FROM c WHERE t.id = c.id RETURNING t.id`;

/** The seedcore set is claimed with the dispatcher's claim (priority/queue order since 013). */
async function loop(url: string, owner: string, indexSet: 'original' | 'seedcore'): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const q = {
    query: async <R extends object>(sql: string, params?: readonly unknown[]) => {
      const r = await c.query(sql, params as unknown[]);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
  };
  let done = 0;
  try {
    for (;;) {
      const ids =
        indexSet === 'original'
          ? (await c.query<{ id: string }>(CLAIM, [owner, BATCH])).rows.map((x) => x.id)
          : (await claimTasks(q, { owner, limit: BATCH, types: ['noop'], queues: ['default'], leaseSeconds: 600, agingSeconds: 300, limitsLocked: false })).map(
              (x) => x.id,
            );
      if (ids.length === 0) break;
      const r = await c.query(RAW_COMPLETE, [ids, owner]);
      done += r.rowCount ?? 0;
    }
  } finally {
    await c.end();
  }
  return done;
}

async function run(indexSet: 'original' | 'seedcore'): Promise<{ tasksPerSecond: number; indexes: number }> {
  const name = `seedcore_bench_idx_${indexSet}_${randomBytes(3).toString('hex')}`;
  await adminStatement(URL_ as string, `CREATE DATABASE ${name}`);
  const url = databaseUrl(URL_ as string, name);
  try {
    const db = await PostgresDb.open({ databaseUrl: url, poolSize: 2 });
    try {
      await migrate(db);
      if (indexSet === 'original') await db.exec(ORIGINAL_INDEXES);
      await db.query(`INSERT INTO tasks (type, status, params) SELECT 'noop', 'queued', '{}'::jsonb FROM generate_series(1, $1)`, [TASKS]);
      await db.exec('VACUUM ANALYZE tasks');
      const indexes = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'tasks'")).rows[0]?.n ?? 0;
      const started = performance.now();
      const counts = await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(url, `bench-${i}`, indexSet)));
      const seconds = (performance.now() - started) / 1000;
      const total = counts.reduce((a, b) => a + b, 0);
      if (total !== TASKS) throw new Error(`completed ${total} of ${TASKS}`);
      return { tasksPerSecond: Math.round(total / seconds), indexes };
    } finally {
      await db.close();
    }
  } finally {
    await adminStatement(URL_ as string, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

async function main(): Promise<void> {
  if (!URL_) throw new Error('bench:indexes needs DATABASE_URL (run scripts/setup-postgres.sh)');
  const results: Record<'original' | 'seedcore', number[]> = { original: [], seedcore: [] };
  let indexCounts: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const set of ['original', 'seedcore'] as const) {
      const r = await run(set);
      results[set].push(r.tasksPerSecond);
      indexCounts = { ...indexCounts, [set]: r.indexes };
      process.stderr.write(`round ${round + 1}: ${set} ${r.tasksPerSecond} tasks/s (${r.indexes} indexes incl. pkey)\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const out = {
    benchmark: 'tasks index set: batched claim+complete, raw SQL',
    tasks: TASKS,
    batch: BATCH,
    loops: LOOPS,
    rounds: ROUNDS,
    indexes: indexCounts,
    tasksPerSecond: { original: median(results.original), seedcore: median(results.seedcore) },
    all: results,
    ratio_seedcore_vs_original: Number((median(results.seedcore) / median(results.original)).toFixed(2)),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
