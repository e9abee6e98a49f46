/**
 * The cost of a /metrics scrape with many executions in the run window: RUNS task_runs rows
 * (default 100,000) that ended in the last minute, of tasks owned by 50 agents, requiring one of
 * 8 capabilities, run by 10 organ instances. Each round builds a metrics registry per mode
 * and scrapes it SCRAPES times back to back (several scrapers, or a dashboard next to
 * Prometheus, within one interval):
 *
 * - every-scrape: max-age 0, the run-window gauges (agent stats, run counts and duration
 *   buckets) query task_runs on every scrape (the behaviour before the snapshot);
 * - snapshot: the default max-age (5 s), scrapes within it reuse one snapshot.
 *
 * Modes alternate within each round so load on the machine hits both alike. Prints JSON: each
 * scrape's time per mode and round, the medians and the ratio of a burst's total time.
 *
 *   DATABASE_URL=postgres://… npx tsc -p tsconfig.json && node dist/bench/agents-metrics.js
 *   env: BENCH_RUNS (100000), BENCH_ROUNDS (3), BENCH_SCRAPES (3)
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { PostgresDb, type Db } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { METRICS_MAX_AGE_MS, createMetrics } from '../src/server/metrics.js';
import { submitTasks } from '../src/tasks/submit.js';
import { adminStatement, databaseUrl } from './scratch-db.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCRAPES = Number(process.env.BENCH_SCRAPES ?? 3);
const TASKS = Math.ceil(RUNS / 4);

async function seed(db: Db): Promise<void> {
  await db.query('INSERT INTO cluster_metadata (id, current_epoch) VALUES (1, gen_random_uuid()) ON CONFLICT (id) DO NOTHING');
  await db.query('UPDATE cluster_metadata SET liveness_seconds = 3600 WHERE id = 1');
  for (let o = 0; o < 10; o++) {
    await db.query('SELECT ensure_organ_node($1)', [`organ-${o}`]);
    await db.query(
      "SELECT register_instance(gen_random_uuid(), $1, (SELECT current_epoch FROM cluster_metadata WHERE id = 1), $1, NULL, 'bench-host', '127.0.0.1', 1)",
      [`organ-${o}`],
    );
  }
  for (let i = 0; i < TASKS; i += 1000) {
    const n = Math.min(1000, TASKS - i);
    await submitTasks(
      db,
      Array.from({ length: n }, (_, j) => ({ type: `type-${(i + j) % 5}`, agentId: `agent-${(i + j) % 50}`, requires: [`cap-${(i + j) % 8}`] })),
    );
  }
  // Four executions per task, ended in the last minute, run by the organ instances.
  await db.query(
    `WITH owners AS (SELECT array_agg(instance_id::text ORDER BY logical_id) AS ids FROM registry_instance)
     INSERT INTO task_runs (task_id, type, attempt, owner_id, started_at, ended_at, outcome)
     SELECT t.id, t.type, g, (SELECT ids[1 + (abs(hashtext(t.id::text || g)) % 10)] FROM owners),
            e - make_interval(secs => random() * 5), e, (ARRAY['completed', 'completed', 'completed', 'failed', 'retry'])[1 + (abs(hashtext(t.id::text || g)) % 5)]
       FROM tasks t CROSS JOIN generate_series(1, 4) g
      CROSS JOIN LATERAL (SELECT now() - make_interval(secs => random() * 60) AS e) x
      LIMIT $1`,
    [RUNS],
  );
  // Their executions ended: the tasks are done (waiting tasks would add the unroutable gauge's cost).
  await db.query("UPDATE tasks SET status = 'completed'");
  await db.query('ANALYZE');
}

async function burst(db: Db, maxAgeMs: number): Promise<number[]> {
  const metrics = createMetrics(db, { maxAgeMs });
  const times: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    const text = await metrics.registry.metrics();
    times.push(Math.round(performance.now() - t0));
    if (!text.includes('seedcore_agent_runs_recent')) throw new Error('no agent gauges in the scrape');
  }
  return times;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is required');
  const name = `seedcore_bench_metrics_${randomBytes(3).toString('hex')}`;
  await adminStatement(base, `CREATE DATABASE ${name}`);
  const db = await PostgresDb.open({ databaseUrl: databaseUrl(base, name), poolSize: 4 });
  try {
    await migrate(db);
    const t0 = performance.now();
    await seed(db);
    const seedSeconds = Math.round((performance.now() - t0) / 100) / 10;
    const rounds: { round: number; everyScrape: number[]; snapshot: number[] }[] = [];
    const load = [loadavg()[0]];
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ['every', 'snapshot'] : ['snapshot', 'every'];
      const row = { round: r + 1, everyScrape: [] as number[], snapshot: [] as number[] };
      for (const mode of order) {
        if (mode === 'every') row.everyScrape = await burst(db, 0);
        else row.snapshot = await burst(db, METRICS_MAX_AGE_MS);
      }
      rounds.push(row);
      load.push(loadavg()[0]);
    }
    const inWindow = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM task_runs WHERE ended_at > now() - interval '300 seconds'")).rows[0]?.n;
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    const every = rounds.map((r) => sum(r.everyScrape));
    const snap = rounds.map((r) => sum(r.snapshot));
    process.stdout.write(
      `${JSON.stringify(
        {
          runs: RUNS,
          runsInWindowAtEnd: inWindow,
          scrapesPerBurst: SCRAPES,
          seedSeconds,
          rounds,
          medianFirstScrapeMs: {
            everyScrape: median(rounds.map((r) => r.everyScrape[0] as number)),
            snapshot: median(rounds.map((r) => r.snapshot[0] as number)),
          },
          medianLaterScrapeMs: {
            everyScrape: median(rounds.flatMap((r) => r.everyScrape.slice(1))),
            snapshot: median(rounds.flatMap((r) => r.snapshot.slice(1))),
          },
          medianBurstMs: { everyScrape: median(every), snapshot: median(snap), ratio: Math.round((median(snap) / median(every)) * 100) / 100 },
          loadavg1: load.map((x) => Math.round((x ?? 0) * 10) / 10),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await db.close();
    if (process.env.BENCH_KEEP === '1') process.stderr.write(`kept database ${name}\n`);
    else await adminStatement(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

await main();
