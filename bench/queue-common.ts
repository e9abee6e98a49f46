/** Helpers shared by bench/queue.ts and bench/queue-peers.ts. */
import { performance } from 'node:perf_hooks';
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
