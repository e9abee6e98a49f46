/**
 * Prometheus gauges for durable tasks, queried on scrape from the database (so they count
 * every client's work, not only this process's): runs that ended in the last window by type
 * and outcome, their duration distribution as histogram buckets, and suspended tasks by what
 * they wait for. A window rather than counters since the beginning: task_runs rows leave with
 * their tasks (`tasks prune`), so totals would go down.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../../db/types.js';

export const RUN_WINDOW_SECONDS = 300;
const BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800];

export function registerDurableMetrics(registry: Registry, db: Db): void {
  const runs = new Gauge({
    name: 'seedcore_task_runs_recent',
    help: `Task executions that ended in the last ${RUN_WINDOW_SECONDS} s, by type and outcome (completed, failed, retry, cancelled, suspended, released; queried on scrape).`,
    labelNames: ['type', 'outcome'],
    registers: [registry],
    async collect() {
      this.reset();
      const { rows } = await db.query<{ type: string; outcome: string; n: number }>(
        `SELECT type, outcome, count(*)::int AS n FROM task_runs WHERE ended_at > now() - make_interval(secs => $1) GROUP BY 1, 2`,
        [RUN_WINDOW_SECONDS],
      );
      for (const r of rows) this.set({ type: r.type, outcome: r.outcome }, r.n);
    },
  });
  void runs;
  // Histogram-shaped (le buckets, _sum, _count) so histogram_quantile() works on it.
  const bucket = new Gauge({
    name: 'seedcore_task_run_duration_seconds_recent_bucket',
    help: `Executions that ended in the last ${RUN_WINDOW_SECONDS} s with a duration ≤ le, by type (cumulative buckets; queried on scrape).`,
    labelNames: ['type', 'le'],
    registers: [registry],
    async collect() {
      this.reset();
      const { rows } = await db.query<{ type: string; le: number[] }>(
        `SELECT type, array_agg(c ORDER BY b) AS le FROM (
           SELECT r.type, b, count(*) FILTER (WHERE r.duration_seconds <= b)::int AS c
             FROM task_runs r CROSS JOIN unnest($2::float8[]) AS b
            WHERE r.ended_at > now() - make_interval(secs => $1)
            GROUP BY r.type, b) x GROUP BY type`,
        [RUN_WINDOW_SECONDS, BUCKETS],
      );
      for (const r of rows) {
        BUCKETS.forEach((b, i) => this.set({ type: r.type, le: String(b) }, r.le[i] ?? 0));
      }
      const totals = await db.query<{ type: string; n: number; sum: number }>(
        `SELECT type, count(*)::int AS n, coalesce(sum(duration_seconds), 0)::float8 AS sum FROM task_runs
          WHERE ended_at > now() - make_interval(secs => $1) GROUP BY type`,
        [RUN_WINDOW_SECONDS],
      );
      for (const r of totals.rows) this.set({ type: r.type, le: '+Inf' }, r.n);
      count.reset();
      sum.reset();
      for (const r of totals.rows) {
        count.set({ type: r.type }, r.n);
        sum.set({ type: r.type }, r.sum);
      }
    },
  });
  void bucket;
  const count = new Gauge({
    name: 'seedcore_task_run_duration_seconds_recent_count',
    help: `Executions that ended in the last ${RUN_WINDOW_SECONDS} s, by type.`,
    labelNames: ['type'],
    registers: [registry],
  });
  const sum = new Gauge({
    name: 'seedcore_task_run_duration_seconds_recent_sum',
    help: `Total duration of the executions that ended in the last ${RUN_WINDOW_SECONDS} s, by type (seconds).`,
    labelNames: ['type'],
    registers: [registry],
  });
  new Gauge({
    name: 'seedcore_tasks_suspended',
    help: 'Durable tasks suspended (queued, waiting), by what they wait for: sleep, event or tasks (queried on scrape).',
    labelNames: ['waiting_for'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const k of ['sleep', 'event', 'tasks']) this.set({ waiting_for: k }, 0);
      const { rows } = await db.query<{ k: string; n: number }>(
        "SELECT split_part(waiting_for, ':', 1) AS k, count(*)::int AS n FROM tasks WHERE waiting_for IS NOT NULL AND status = 'queued' GROUP BY 1",
      );
      for (const r of rows) this.set({ waiting_for: r.k }, r.n);
    },
  });
}
