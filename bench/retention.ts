/**
 * Retention under steady load: tasks are submitted and completed at a fixed rate for a while,
 * once without pruning and once with `pruneTasks` every few seconds, each on a fresh database
 * of the same server. Every sample records live rows, pg_stat_user_tables.n_dead_tup and the
 * table size (with indexes). Prints JSON. Needs DATABASE_URL.
 *
 *   npm run bench:retention     # 2000 tasks/s for 30 s per variant, prune every 3 s, older than 5 s
 *
 * Variants: keep (no pruning), prune, prune+vacuum (pruneTasks({ vacuum: true })).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresDb } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { claimTasks } from '../src/tasks/claim.js';
import { pruneTasks } from '../src/tasks/retention.js';
import { adminStatement } from './scratch-db.js';

const URL_ = process.env.DATABASE_URL;
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const PRUNE_EVERY_MS = Number(process.env.BENCH_PRUNE_EVERY_MS ?? 3000);
const OLDER_THAN = Number(process.env.BENCH_OLDER_THAN_S ?? 5);

const COMPLETE = `UPDATE tasks SET status = 'completed', result = '{}'::jsonb, owner_id = NULL, locked_by = NULL, locked_at = NULL,
  lease_expires_at = NULL, updated_at = now() WHERE id = ANY($1::uuid[]) AND owner_id = $2 AND status = 'running'`;

interface Sample {
  t: number;
  live: number;
  dead: number;
  mb: number;
  autovacuums: number;
}

// main() checks DATABASE_URL before anything runs.
const admin = (sql: string): Promise<void> => adminStatement(URL_ as string, sql);

type Variant = 'keep' | 'prune' | 'prune+vacuum';

async function run(variant: Variant): Promise<{ samples: Sample[]; completed: number; pruned: number }> {
  const prune = variant !== 'keep';
  const name = `seedcore_bench_ret_${variant.replace('+', '_')}_${randomBytes(3).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(URL_ as string);
  u.pathname = `/${name}`;
  const db = await PostgresDb.open({ databaseUrl: u.toString(), poolSize: 4 });
  const samples: Sample[] = [];
  let completed = 0;
  let pruned = 0;
  let stop = false;
  try {
    await migrate(db);
    const started = Date.now();
    const producer = (async () => {
      for (let tick = 0; !stop; tick++) {
        await db.query("INSERT INTO tasks (type, status) SELECT 'noop', 'queued' FROM generate_series(1, $1)", [Math.round(RATE / 10)]);
        const wait = started + (tick + 1) * 100 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
    const consumer = (async () => {
      while (!stop) {
        const got = await claimTasks(db, {
          owner: 'c',
          limit: 500,
          types: ['noop'],
          queues: ['default'],
          leaseSeconds: 60,
          agingSeconds: 300,
          limitsLocked: false,
        });
        if (got.length === 0) await new Promise((r) => setTimeout(r, 20));
        else completed += (await db.query(COMPLETE, [got.map((x) => x.id), 'c'])).rowCount;
      }
    })();
    const pruner = (async () => {
      while (!stop) {
        await new Promise((r) => setTimeout(r, PRUNE_EVERY_MS));
        if (prune && !stop) pruned += (await pruneTasks(db, { olderThanSeconds: OLDER_THAN, batchSize: 5000, vacuum: variant === 'prune+vacuum' })).deleted;
      }
    })();
    while (Date.now() - started < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 3000));
      const s = await db.query<{ live: number; dead: number; bytes: string; av: number }>(
        `SELECT (SELECT count(*)::int FROM tasks) AS live, n_dead_tup::int AS dead, pg_total_relation_size('tasks')::text AS bytes,
                autovacuum_count::int AS av FROM pg_stat_user_tables WHERE relname = 'tasks'`,
      );
      const r = s.rows[0] as { live: number; dead: number; bytes: string; av: number };
      samples.push({
        t: Math.round((Date.now() - started) / 1000),
        live: r.live,
        dead: r.dead,
        mb: Number((Number(r.bytes) / 1048576).toFixed(1)),
        autovacuums: r.av,
      });
      process.stderr.write(`${variant} t=${samples.at(-1)?.t}s live=${r.live} dead=${r.dead} size=${samples.at(-1)?.mb}MB autovacuums=${r.av}\n`);
    }
    stop = true;
    await Promise.all([producer, consumer, pruner]);
    return { samples, completed, pruned };
  } finally {
    await db.close();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

async function main(): Promise<void> {
  if (!URL_) throw new Error('bench:retention needs DATABASE_URL');
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  const autovacuum = (await c.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]?.autovacuum;
  await c.end();
  const keep = await run('keep');
  const prune = await run('prune');
  const vac = await run('prune+vacuum');
  const last = (r: { samples: Sample[] }): Sample | undefined => r.samples.at(-1);
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'retention under steady load (submit + complete at a fixed rate)',
        ratePerSecond: RATE,
        seconds: SECONDS,
        pruneEveryMs: PRUNE_EVERY_MS,
        olderThanSeconds: OLDER_THAN,
        serverAutovacuum: autovacuum,
        final: { keep: last(keep), prune: last(prune), pruneVacuum: last(vac) },
        completed: { keep: keep.completed, prune: prune.completed, pruneVacuum: vac.completed },
        pruned: { prune: prune.pruned, pruneVacuum: vac.pruned },
        samples: { keep: keep.samples, prune: prune.samples, pruneVacuum: vac.samples },
      },
      null,
      2,
    )}\n`,
  );
}

await main();
