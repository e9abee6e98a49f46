/**
 * Hot-path variants: the dispatcher's own claim and completion statements (claimTasks,
 * completeTasks) in a raw loop without handlers, on schema variants applied after migrating,
 * so that each change to the write path is measured on its own: tasks/s, and per task the
 * server's CPU, WAL bytes, full-page images and WAL records (bench/drain-probe.ts). Rounds
 * interleave the variants (order rotated each round); medians are reported. Needs
 * DATABASE_URL; the CPU figure needs the server on this machine, the WAL figures are exact only
 * on a server nothing else writes to (pg_stat_wal counts the whole server).
 *
 *   DATABASE_URL=postgres://… npm run bench:hot-path
 *   env: BENCH_TASKS (30000), BENCH_BATCH (500), BENCH_LOOPS (2: claimers at once), BENCH_ROUNDS (3),
 *        BENCH_VARIANTS (comma-separated names below; default all),
 *        BENCH_WARM (small: each connection first ends the run of one task, see WARM_SMALL)
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PostgresDb } from '../src/db/index.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { migrate } from '../src/migrate/runner.js';
import { claimTasks } from '../src/tasks/claim.js';
import { completeTasks } from '../src/tasks/completion.js';
import { startDrainProbe, type DrainCost } from './drain-probe.js';
import { warmConnections } from './queue-common.js';
import { adminStatement, databaseUrl } from './scratch-db.js';

const SERVER = process.env.DATABASE_URL;
const TASKS = Number(process.env.BENCH_TASKS ?? 30_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const LOOPS = Number(process.env.BENCH_LOOPS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const ROW_RUNS = `
CREATE OR REPLACE FUNCTION tasks_record_run() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF coalesce(current_setting('seedcore.task_runs', true), '') <> 'off' THEN
    INSERT INTO task_runs (task_id, type, attempt, owner_id, started_at, outcome, error)
    VALUES (NEW.id, NEW.type, OLD.attempts, OLD.owner_id, coalesce(OLD.locked_at, OLD.updated_at),
            CASE WHEN NEW.status = 'queued' AND NEW.waiting_for IS NOT NULL THEN 'suspended'
                 WHEN NEW.status IN ('queued', 'created') THEN 'released'
                 ELSE NEW.status::text END,
            CASE WHEN NEW.status IN ('failed', 'retry', 'cancelled') AND NEW.error IS DISTINCT FROM OLD.error THEN
                 CASE WHEN OLD.error IS NOT NULL AND starts_with(NEW.error, OLD.error || ' | ')
                      THEN substr(NEW.error, length(OLD.error) + 4) ELSE NEW.error END END);
  END IF;
  RETURN NULL;
END
$f$;
CREATE OR REPLACE TRIGGER trg_tasks_record_run AFTER UPDATE ON tasks FOR EACH ROW
  WHEN (OLD.status = 'running' AND NEW.status <> 'running') EXECUTE FUNCTION tasks_record_run();
CREATE OR REPLACE FUNCTION tasks_durable_transitions() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  v_parents uuid[];
  v_cancelled uuid[];
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE status IN ('completed', 'failed', 'cancelled') AND (parent_id IS NOT NULL OR status = 'cancelled')) THEN
    SELECT array_agg(DISTINCT n.parent_id) FILTER (WHERE n.parent_id IS NOT NULL),
           array_agg(n.id) FILTER (WHERE n.status = 'cancelled')
      INTO v_parents, v_cancelled
      FROM new_rows n WHERE n.status IN ('completed', 'failed', 'cancelled');
    IF v_parents IS NOT NULL THEN
      PERFORM wake_task_parents(v_parents);
    END IF;
    IF v_cancelled IS NOT NULL THEN
      DELETE FROM task_waits w WHERE w.task_id = ANY (v_cancelled);
      UPDATE tasks c
         SET status = 'cancelled', lease_expires_at = NULL, updated_at = now(),
             error = concat_ws(' | ', c.error, format('cancelled: parent %s was cancelled', c.parent_id))
       WHERE c.parent_id = ANY (v_cancelled) AND c.status IN ('created', 'queued', 'retry', 'running');
    END IF;
  END IF;
  RETURN NULL;
END
$f$;
`;

/**
 * The run-history trigger function of migration 018, before 031, read from the released file:
 * the insert joins the transition tables with an inner join, which the plan a connection keeps
 * from its first run-ending statement may execute as a nested loop.
 */
function runs018(): string {
  const text = readFileSync(join(PACKAGE_ROOT, 'migrations', '018_durable_runs.sql'), 'utf8');
  const start = text.indexOf('CREATE OR REPLACE FUNCTION tasks_durable_transitions()');
  const end = text.indexOf('\n$$;', start);
  if (start < 0 || end < 0) throw new Error('runs-018: tasks_durable_transitions() not found in migration 018');
  return text.slice(start, end + 4);
}
const RUNS_018 = runs018();

/** 018's function with the full join of 031 for every statement size (031 keeps the inner join up to 16 runs). */
const RUNS_FULL_JOIN = RUNS_018.replace(
  "FROM new_rows n JOIN old_rows o ON o.id = n.id\n     WHERE o.status = 'running' AND n.status <> 'running';",
  "FROM new_rows n FULL JOIN old_rows o ON o.id = n.id\n     WHERE coalesce(o.status = 'running' AND n.status <> 'running', false);",
);
if (RUNS_FULL_JOIN === RUNS_018) throw new Error('runs-full-join: the join of RUNS_018 was not found');

/**
 * The dispatcher's completion statement before it called complete_tasks() (migrations 020 and
 * 024): the compare-and-set for tasks nothing depends on, in one autocommit statement.
 */
const COMPLETE_LEAVES = `UPDATE tasks t
   SET status = 'completed', result = $2::jsonb -> t.id::text, error = NULL, owner_id = NULL, locked_by = NULL,
       locked_at = NULL, lease_expires_at = NULL, updated_at = now()
 WHERE t.id = ANY ($1::uuid[]) AND t.owner_id = $3 AND t.status::text = 'running'
   AND NOT EXISTS (SELECT 1 FROM task_depends_on_task e WHERE e.dst_task_id = t.id)
RETURNING t.id`;

/**
 * Variant name → SQL run after migrating (empty: the schema as migrated). Every variant
 * completes through complete_tasks(), as the dispatcher does, except those whose name starts
 * with `complete-leaves` (the statement above).
 */
const VARIANTS: Record<string, string> = {
  'complete-leaves': '',
  current: '',
  // Lower bound of the run history's cost: no statement trigger at all (no history, no
  // parent wake-up; not a shippable schema).
  'no-transitions-trigger': 'DROP TRIGGER trg_tasks_durable_transitions ON tasks',
  'runs-off': "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET seedcore.task_runs = off', current_database()); END $$",
  // The run history by a row trigger whose WHEN clause skips every row that does not stop
  // running (claims call no function and capture no transition tables for it); the statement
  // trigger keeps only the parent wake-up and the cancellation of children.
  'row-runs': ROW_RUNS,
  // row-runs without the statement trigger: what the transition tables and its scans cost.
  'row-runs-only': ROW_RUNS + 'DROP TRIGGER trg_tasks_durable_transitions ON tasks;',
  // What the run history's row costs, part by part (none of these is shippable as it stands):
  // the trigger fires and captures its transition tables but does nothing,
  'trigger-noop': 'CREATE OR REPLACE FUNCTION tasks_durable_transitions() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$',
  // task_runs without its BRIN on ended_at (the run-window reads: metrics, agent stats, overview),
  'runs-no-brin': 'DROP INDEX idx_task_runs_ended',
  // without either index,
  'runs-no-indexes': 'DROP INDEX idx_task_runs_ended; DROP INDEX idx_task_runs_task',
  // a hash index on task_id instead of the btree on (task_id, ended_at),
  'runs-hash-index': 'DROP INDEX idx_task_runs_task; CREATE INDEX idx_task_runs_task ON task_runs USING hash (task_id)',
  // the btree on task_id alone,
  'runs-task-index': 'DROP INDEX idx_task_runs_task; CREATE INDEX idx_task_runs_task ON task_runs (task_id)',
  // duration_seconds computed by date_part() (float8) instead of extract() (numeric, then cast).
  'runs-date-part':
    "ALTER TABLE task_runs DROP COLUMN duration_seconds, ADD COLUMN duration_seconds double precision GENERATED ALWAYS AS (date_part('epoch', ended_at - started_at)) STORED",
  // The run-history function before migration 031 (run with BENCH_WARM=small to see why it changed).
  'runs-018': RUNS_018,
  'runs-full-join': RUNS_FULL_JOIN,
  'fillfactor-70': 'ALTER TABLE tasks SET (fillfactor = 70)',
  'no-created-at-index': 'DROP INDEX idx_tasks_created_at',
  // Random (version 4) ids, as before migration 023 (and as a client may still give them).
  'random-ids': 'ALTER TABLE tasks ALTER COLUMN id SET DEFAULT gen_random_uuid()',
};

const CHUNK = 1000;

/**
 * BENCH_WARM=small: before the timed drain every pool connection ends one run of one task, as
 * a worker's first completion of a single task does, so each connection's cached plan of the
 * run-history insert is the one made for a statement of one row.
 */
const WARM_SMALL = process.env.BENCH_WARM === 'small';

async function variantRun(name: string, sql: string): Promise<{ perSec: number; cost: DrainCost }> {
  const base = SERVER as string;
  const dbName = `bench_hot_${randomBytes(3).toString('hex')}`;
  await adminStatement(base, `CREATE DATABASE ${dbName}`);
  const url = databaseUrl(base, dbName);
  try {
    const setup = await PostgresDb.open({ databaseUrl: url, poolSize: 2 });
    try {
      await migrate(setup);
      if (sql) await setup.exec(sql);
    } finally {
      await setup.close();
    }
    // A pool opened after the variant's SQL, so database-level settings apply to it.
    const db = await PostgresDb.open({ databaseUrl: url, poolSize: LOOPS + 1 });
    try {
      // Plain INSERTs: ids come from the column default, which some variants change.
      for (let i = 0; i < TASKS; i += CHUNK) {
        await db.query("INSERT INTO tasks (type, status) SELECT 'noop', 'queued' FROM generate_series(1, $1::int)", [Math.min(CHUNK, TASKS - i)]);
      }
      await db.exec('ANALYZE');
      if (WARM_SMALL) await warmConnections(db, LOOPS + 1);
      await db.exec('CHECKPOINT');
      const probe = await startDrainProbe(url);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: LOOPS }, async (_, l) => {
          const owner = `hot-${name}-${l}`;
          for (;;) {
            const rows = await claimTasks(db, {
              owner,
              limit: BATCH,
              types: ['noop'],
              queues: ['default'],
              leaseSeconds: 60,
              agingSeconds: 300,
              limitsLocked: false,
            });
            if (rows.length === 0) return;
            if (name.startsWith('complete-leaves')) {
              const res = await db.query(COMPLETE_LEAVES, [rows.map((r) => r.id), `{${rows.map((r) => `"${r.id}":null`).join(',')}}`, owner]);
              if (res.rowCount !== rows.length) throw new Error(`${name}: ${rows.length - res.rowCount} completions lost`);
            } else {
              const written = await completeTasks(
                db,
                rows.map((r) => ({ id: r.id, owner, result: 'null' })),
              );
              if (written.size !== rows.length) throw new Error(`${name}: ${rows.length - written.size} completions lost`);
            }
          }
        }),
      );
      const ms = performance.now() - t0;
      const cost = await probe.stop(TASKS);
      const left = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status <> 'completed'");
      if ((left.rows[0]?.n ?? -1) !== 0) throw new Error(`${name}: ${left.rows[0]?.n} tasks not completed`);
      return { perSec: Math.round((TASKS / ms) * 1000), cost };
    } finally {
      await db.close();
    }
  } finally {
    await adminStatement(base, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  }
}

const med = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.floor((v.length - 1) / 2)] as number;
};

async function main(): Promise<void> {
  if (!SERVER) throw new Error('DATABASE_URL is required');
  const os = await import('node:os');
  const names = (process.env.BENCH_VARIANTS ?? Object.keys(VARIANTS).join(',')).split(',');
  for (const n of names) if (!(n in VARIANTS)) throw new Error(`unknown variant ${n} (known: ${Object.keys(VARIANTS).join(', ')})`);
  const loadAtStart = os.loadavg();
  const raw = new Map<string, { perSec: number; cost: DrainCost }[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length] as string);
    for (const n of order) {
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${n} … `);
      const r = await variantRun(n, VARIANTS[n] as string);
      raw.set(n, [...(raw.get(n) ?? []), r]);
      process.stderr.write(`${r.perSec}/s, db ${r.cost.dbCpuUsPerTask} us, wal ${r.cost.walBytesPerTask} B, fpi ${r.cost.walFpiPerTask}\n`);
    }
  }
  const results: Record<string, unknown> = {};
  for (const [n, rs] of raw) {
    const num = (f: (c: DrainCost) => number | null): number | null => {
      const v = rs.map((r) => f(r.cost)).filter((x): x is number => x !== null);
      return v.length ? med(v) : null;
    };
    results[n] = {
      tasksPerSecond: med(rs.map((r) => r.perSec)),
      all: rs.map((r) => r.perSec),
      dbCpuUsPerTask: num((c) => c.dbCpuUsPerTask),
      walBytesPerTask: num((c) => c.walBytesPerTask),
      walFpiPerTask: num((c) => c.walFpiPerTask),
      walRecordsPerTask: num((c) => c.walRecordsPerTask),
      statements: rs[rs.length - 1]?.cost.statements,
    };
  }
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  process.stdout.write(
    `${JSON.stringify(
      {
        machine: { cpus: os.cpus().length, loadavgAtStart: loadAtStart.map(round2), loadavgAtEnd: os.loadavg().map(round2) },
        settings: { tasks: TASKS, batch: BATCH, loops: LOOPS, rounds: ROUNDS },
        results,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
