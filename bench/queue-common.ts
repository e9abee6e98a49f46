/** Helpers shared by bench/queue.ts and bench/queue-peers.ts. */
import { performance } from 'node:perf_hooks';
import type { PostgresDb } from '../src/db/index.js';
import type { DrainCost } from './drain-probe.js';

const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300);
const GAP_MS = Number(process.env.BENCH_LATENCY_GAP_MS ?? 20);

export interface SystemResult {
  enqueuePerSec: number;
  drainPerSec: number;
  drainMs: number;
  latencyMs: { p50: number; p99: number; samples: number };
  /** What the drain cost the server (bench/drain-probe.ts); absent on PGlite. */
  cost?: DrainCost;
  /** SeedCore: task_runs rows after the drain (one per task with the run history on, none with it off). */
  taskRuns?: number;
}

export const CHUNK = 1000;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[i] as number) * 100) / 100;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Measure the enqueue → start latency with jobs sent every GAP_MS ms. */
export async function measureLatency(
  enqueue: (sentAt: number) => Promise<void>,
  started: Map<number, number>,
): Promise<{ p50: number; p99: number; samples: number }> {
  const lat: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const sentAt = performance.now();
    await enqueue(sentAt);
    await sleep(GAP_MS);
  }
  const deadline = Date.now() + 10_000;
  while (started.size < SAMPLES && Date.now() < deadline) await sleep(20);
  for (const [sentAt, at] of started) lat.push(at - sentAt);
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), samples: lat.length };
}

/**
 * `poolSize` connections of the pool each claim and complete one `warm` task of their own by
 * plain SQL, so each connection's kept plan of the run-history insert is the one made for a
 * statement of one row (BENCH_WARM=small in bench:queue and the hot-path bench).
 */
export async function warmConnections(db: PostgresDb, poolSize: number): Promise<void> {
  await db.query("INSERT INTO tasks (type, status) SELECT 'warm', 'queued' FROM generate_series(1, $1::int)", [poolSize]);
  const clients = await Promise.all(Array.from({ length: poolSize }, () => db.pool.connect()));
  try {
    for (const [i, c] of clients.entries()) {
      const owner = `warm-${i}`;
      await c.query(
        "UPDATE tasks SET status = 'running', owner_id = $1, locked_at = now(), attempts = attempts + 1 WHERE id = (SELECT id FROM tasks WHERE type = 'warm' AND status = 'queued' LIMIT 1)",
        [owner],
      );
      await c.query("UPDATE tasks SET status = 'completed', owner_id = NULL, locked_at = NULL WHERE owner_id = $1 AND status = 'running'", [owner]);
    }
  } finally {
    for (const c of clients) c.release();
  }
}
