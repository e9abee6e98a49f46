/**
 * The peers of bench/queue.ts, each tuned to its best documented throughput settings:
 * - graphile-worker 0.17.3: localQueue.size BENCH_BATCH (500; batch fetch), completeJobBatchDelay 0 and
 *   failJobBatchDelay 0 (batched completion), prepared statements (its default).
 * - pg-boss 10.4.2: batch fetch (batchSize BENCH_BATCH) with `concurrency` work() loops polling every
 *   0.5 s (its minimum); v10 has no LISTEN/NOTIFY and no burst mode (those came in v11/v12,
 *   which need Node ≥ 22).
 */
import { performance } from 'node:perf_hooks';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import PgBoss from 'pg-boss';
import pg from 'pg';
import { startDrainProbe } from './drain-probe.js';
import { CHUNK, measureLatency, sleep, type SystemResult } from './queue-common.js';

/** As autovacuum would after a bulk insert (done for every system). */
async function analyze(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}

// graphile-worker logs one line per job unless told otherwise.
const quietLogger = new Logger(() => (level: string, message: string) => {
  if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
});

/**
 * `batch`: localQueue.size and batched completion (completeJobBatchDelay 0), or null for
 * graphile-worker's defaults (no local queue, one completion per job).
 */
export async function runGraphile(url: string, tasks: number, concurrency: number, batch: number | null, latency = true): Promise<SystemResult> {
  // Our own pool (graphile-worker's default pool size, 10), ended before the database is
  // dropped, with an error listener: graphile-worker releases its pools asynchronously and an
  // idle connection terminated by DROP DATABASE … WITH (FORCE) would crash the process.
  const pgPool = new pg.Pool({ connectionString: url, max: 10 });
  pgPool.on('error', () => undefined);
  pgPool.on('connect', (client) => client.on('error', () => undefined));
  const utils = await makeWorkerUtils({ pgPool, logger: quietLogger });
  try {
    await utils.migrate();
    let t0 = performance.now();
    for (let i = 0; i < tasks; i += CHUNK) {
      await utils.addJobs(Array.from({ length: Math.min(CHUNK, tasks - i) }, () => ({ identifier: 'noop', payload: {} })));
    }
    const enqueueMs = performance.now() - t0;
    await analyze(url);
    let count = 0;
    let allRan!: () => void;
    const ran = new Promise<void>((r) => (allRan = r));
    const preset = batch === null ? {} : { worker: { localQueue: { size: batch }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } };
    const probe = await startDrainProbe(url);
    t0 = performance.now();
    const runner = await run({
      pgPool,
      concurrency,
      noHandleSignals: true,
      logger: quietLogger,
      crontab: '',
      preset,
      taskList: {
        noop: async () => {
          if (++count === tasks) allRan();
        },
      },
    });
    await ran;
    await runner.stop();
    const drainMs = performance.now() - t0;
    const cost = await probe.stop(tasks);
    const summary = {
      enqueuePerSec: Math.round((tasks / enqueueMs) * 1000),
      drainPerSec: Math.round((tasks / drainMs) * 1000),
      drainMs: Math.round(drainMs),
      cost,
    };
    if (!latency) return { ...summary, latencyMs: { p50: NaN, p99: NaN, samples: 0 } };
    // latency (localQueue off: a batch-fetching pool waits for its refetch cycle on a trickle)
    const started = new Map<number, number>();
    const latencyRunner = await run({
      pgPool,
      concurrency,
      noHandleSignals: true,
      logger: quietLogger,
      crontab: '',
      taskList: {
        ping: async (payload) => {
          started.set((payload as { sentAt: number }).sentAt, performance.now());
        },
      },
    });
    await sleep(200);
    const pickup = await measureLatency(async (sentAt) => {
      await utils.addJob('ping', { sentAt });
    }, started);
    await latencyRunner.stop();
    return { ...summary, latencyMs: pickup };
  } finally {
    await utils.release();
    await pgPool.end();
  }
}

export async function runPgBoss(url: string, tasks: number, concurrency: number, batch: number): Promise<SystemResult> {
  const boss = new PgBoss({ connectionString: url, max: 10 });
  boss.on('error', (e: Error) => process.stderr.write(`pg-boss: ${e.message}\n`));
  await boss.start();
  try {
    await boss.createQueue('noop');
    await boss.createQueue('ping');
    let t0 = performance.now();
    for (let i = 0; i < tasks; i += CHUNK) {
      await boss.insert(Array.from({ length: Math.min(CHUNK, tasks - i) }, () => ({ name: 'noop', data: {} })));
    }
    const enqueueMs = performance.now() - t0;
    await analyze(url);
    let count = 0;
    let allRan!: () => void;
    const ran = new Promise<void>((r) => (allRan = r));
    const probe = await startDrainProbe(url);
    t0 = performance.now();
    const workers: string[] = [];
    for (let i = 0; i < concurrency; i++) {
      workers.push(
        await boss.work('noop', { batchSize: batch, pollingIntervalSeconds: 0.5 }, async (jobs) => {
          count += jobs.length;
          if (count >= tasks) allRan();
        }),
      );
    }
    await ran;
    for (const w of workers) await boss.offWork({ id: w } as unknown as string);
    // pg-boss completes batches without awaiting; wait until the table shows them done.
    for (;;) {
      const left = await boss.getQueueSize('noop', { before: 'completed' });
      if (left === 0) break;
      await sleep(5);
    }
    const drainMs = performance.now() - t0;
    const cost = await probe.stop(tasks);
    const started = new Map<number, number>();
    for (let i = 0; i < concurrency; i++) {
      await boss.work('ping', { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const j of jobs) started.set((j.data as { sentAt: number }).sentAt, performance.now());
      });
    }
    await sleep(200);
    const latency = await measureLatency(async (sentAt) => {
      await boss.send('ping', { sentAt });
    }, started);
    return {
      enqueuePerSec: Math.round((tasks / enqueueMs) * 1000),
      drainPerSec: Math.round((tasks / drainMs) * 1000),
      drainMs: Math.round(drainMs),
      latencyMs: latency,
      cost,
    };
  } finally {
    await boss.stop({ graceful: false, wait: true } as PgBoss.StopOptions);
  }
}
