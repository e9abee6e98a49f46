/**
 * Claim benchmark for migration 013: the raw batched claim+complete loop before 013 (schema
 * 001–012, claim ordered by created_at over idx_tasks_claim (created_at, id)) and after it
 * (schema 001–013, the priority/queue claim of src/tasks/claim.ts over the reshaped index),
 * same server, same run. Prints JSON. Needs DATABASE_URL.
 *
 *   npm run bench:claim        # 30k tasks, batches of 500, 2 loops, 3 rounds (median)
 *
 * Variants: before; after (all tasks normal priority, like "before"); after-mixed (the four
 * priorities mixed, aging 300 s: four range scans per claim, and up to 4 × batch rows locked).
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PostgresDb } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { MIGRATIONS_DIR } from '../src/paths.js';
import { claimTasks } from '../src/tasks/claim.js';
import { RAW_COMPLETE, adminStatement, databaseUrl } from './scratch-db.js';

const URL_ = process.env.DATABASE_URL;
const TASKS = Number(process.env.BENCH_TASKS ?? 30_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const LOOPS = Number(process.env.BENCH_LOOPS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

type Variant = 'before' | 'after' | 'after-mixed';

/** The claim statement as it was before 013 (worker-sql.ts at f8d276b). */
const OLD_CLAIM = `
WITH c AS (
  SELECT id FROM tasks
   WHERE status IN ('queued', 'retry') AND (run_after IS NULL OR run_after <= now()) AND type = ANY($3::text[])
   ORDER BY created_at, id
   LIMIT $2
     FOR UPDATE SKIP LOCKED)
UPDATE tasks t
   SET status = 'running', owner_id = $1, locked_by = $1, locked_at = now(), last_heartbeat = now(),
       lease_expires_at = now() + make_interval(secs => $4::float8), attempts = t.attempts + 1, updated_at = now()
  FROM c
 WHERE t.id = c.id
RETURNING t.id, t.type, t.params, t.description, t.domain, t.drift_score, t.attempts`;

async function loop(url: string, owner: string, variant: Variant): Promise<number> {
  const db = await PostgresDb.open({ databaseUrl: url, poolSize: 1 });
  let done = 0;
  try {
    for (;;) {
      const ids =
        variant === 'before'
          ? (await db.query<{ id: string }>(OLD_CLAIM, [owner, BATCH, ['noop'], 600])).rows.map((r) => r.id)
          : (
              await claimTasks(db, {
                owner,
                limit: BATCH,
                types: ['noop'],
                queues: ['default'],
                leaseSeconds: 600,
                agingSeconds: 300,
                limitsLocked: false,
              })
            ).map((r) => r.id);
      if (ids.length === 0) break;
      const r = await db.query(RAW_COMPLETE, [ids, owner]);
      done += r.rowCount;
    }
  } finally {
    await db.close();
  }
  return done;
}

async function run(variant: Variant): Promise<{ tasksPerSecond: number; indexes: number }> {
  const name = `seedcore_bench_claim_${variant.replace('-', '_')}_${randomBytes(3).toString('hex')}`;
  await adminStatement(URL_ as string, `CREATE DATABASE ${name}`);
  const url = databaseUrl(URL_ as string, name);
  let dir: string | undefined;
  try {
    const db = await PostgresDb.open({ databaseUrl: url, poolSize: 2 });
    try {
      if (variant === 'before') {
        dir = mkdtempSync(join(tmpdir(), 'seedcore-bench-012-'));
        for (const f of readdirSync(MIGRATIONS_DIR)) if (/^0(0\d|1[0-2])_.*\.sql$/.test(f)) cpSync(join(MIGRATIONS_DIR, f), join(dir, f));
        await migrate(db, { dir });
        await db.query(`INSERT INTO tasks (type, status, params) SELECT 'noop', 'queued', '{}'::jsonb FROM generate_series(1, $1)`, [TASKS]);
      } else {
        await migrate(db);
        const prio = variant === 'after' ? "'normal'" : '(enum_range(NULL::taskpriority))[1 + g % 4]';
        await db.query(`INSERT INTO tasks (type, status, params, priority) SELECT 'noop', 'queued', '{}'::jsonb, ${prio} FROM generate_series(1, $1) g`, [
          TASKS,
        ]);
      }
      await db.exec('VACUUM ANALYZE tasks');
      const indexes = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'tasks'")).rows[0]?.n ?? 0;
      const started = performance.now();
      const counts = await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(url, `bench-${i}`, variant)));
      const seconds = (performance.now() - started) / 1000;
      const total = counts.reduce((a, b) => a + b, 0);
      if (total !== TASKS) throw new Error(`${variant}: completed ${total} of ${TASKS}`);
      return { tasksPerSecond: Math.round(total / seconds), indexes };
    } finally {
      await db.close();
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await adminStatement(URL_ as string, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

async function main(): Promise<void> {
  if (!URL_) throw new Error('bench:claim needs DATABASE_URL (run scripts/setup-postgres.sh)');
  const variants: Variant[] = ['before', 'after', 'after-mixed'];
  const results: Record<Variant, number[]> = { before: [], after: [], 'after-mixed': [] };
  const indexCounts: Partial<Record<Variant, number>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const r = await run(v);
      results[v].push(r.tasksPerSecond);
      indexCounts[v] = r.indexes;
      process.stderr.write(`round ${round + 1}: ${v} ${r.tasksPerSecond} tasks/s (${r.indexes} indexes incl. pkey)\n`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const m = { before: median(results.before), after: median(results.after), 'after-mixed': median(results['after-mixed']) };
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'claim+complete, raw SQL: before 013 vs after 013',
        tasks: TASKS,
        batch: BATCH,
        loops: LOOPS,
        rounds: ROUNDS,
        indexes: indexCounts,
        tasksPerSecond: m,
        all: results,
        ratio_after_vs_before: Number((m.after / m.before).toFixed(2)),
        ratio_after_mixed_vs_before: Number((m['after-mixed'] / m.before).toFixed(2)),
      },
      null,
      2,
    )}\n`,
  );
}

await main();
