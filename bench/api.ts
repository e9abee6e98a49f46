/**
 * bench:api — HTTP throughput and latency of `seedcore serve`:
 *   GET  /api/tasks?limit=50  (over a table of 10,000 tasks)
 *   POST /api/tasks           (one task per request)
 * The server runs as a real `seedcore serve` child process (JSON logs at warn, no demo, no
 * background dispatcher so the table only grows by what we POST); the load comes from this
 * process over keep-alive sockets with a fixed number of requests in flight. Server backend
 * by default (DATABASE_URL, a scratch database created and dropped here); `--pglite` adds
 * the embedded backend for comparison. Prints JSON.
 *
 *   npm run bench:api [-- --seconds 10 --concurrency 32 --pglite]
 */
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresDb, PGliteDb, type Db } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = opt('seconds', 10);
const WARMUP_SECONDS = 2;
const CONCURRENCY = opt('concurrency', 32);
const PRELOAD = 10_000;
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'seedcore.js');
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://seedcore:seedcore@127.0.0.1:5432/seedcore';

interface Result {
  backend: string;
  endpoint: string;
  seconds: number;
  concurrency: number;
  requests: number;
  errors: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function preload(db: Db): Promise<void> {
  await db.query(
    // Distinct created_at values, as real submissions have (one statement would give every
    // row the same now(), and the newest-first listing would then sort the whole table by id).
    `INSERT INTO tasks (type, status, params, description, created_at, updated_at)
     SELECT 'bench_' || (g % 5), 'completed', jsonb_build_object('i', g), 'preloaded task ' || g,
            now() - g * interval '1 second', now() - g * interval '1 second'
       FROM generate_series(1, $1) g`,
    [PRELOAD],
  );
  await db.query('ANALYZE tasks');
}

function startServe(dbArgs: string[]): Promise<{ child: ChildProcess; url: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  delete env.SEEDCORE_API_TOKEN;
  if (!dbArgs.includes('--database-url')) delete env.DATABASE_URL;
  const child = spawn(process.execPath, [BIN, ...dbArgs, 'serve', '--port', '0', '--no-demo', '--no-background'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) resolve({ child, url: m[1] as string });
      else reject(new Error(`unexpected first line: ${line}`));
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
}

async function stopServe(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Keep `CONCURRENCY` requests in flight for `seconds`; latency of each in ms. */
async function load(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body: () => string | undefined,
  seconds: number,
): Promise<{ lat: number[]; errors: number; elapsed: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const url = new URL(path, base);
  const lat: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const payload = body();
      const t0 = performance.now();
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method,
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200 && res.statusCode !== 201) errors++;
            else lat.push(performance.now() - t0);
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      if (payload) req.write(payload);
      req.end();
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { lat, errors, elapsed };
}

async function measure(backend: string, base: string): Promise<Result[]> {
  const out: Result[] = [];
  let n = 0;
  const cases: Array<[string, 'GET' | 'POST', string, () => string | undefined]> = [
    ['GET /api/tasks?limit=50', 'GET', '/api/tasks?limit=50', () => undefined],
    ['POST /api/tasks', 'POST', '/api/tasks', () => JSON.stringify({ type: 'bench_post', params: { n: n++ } })],
  ];
  for (const [endpoint, method, path, body] of cases) {
    await load(base, method, path, body, WARMUP_SECONDS);
    const { lat, errors, elapsed } = await load(base, method, path, body, SECONDS);
    lat.sort((a, b) => a - b);
    const r: Result = {
      backend,
      endpoint,
      seconds: Number(elapsed.toFixed(2)),
      concurrency: CONCURRENCY,
      requests: lat.length,
      errors,
      reqPerSec: Math.round(lat.length / elapsed),
      p50Ms: Number(percentile(lat, 50).toFixed(2)),
      p99Ms: Number(percentile(lat, 99).toFixed(2)),
      maxMs: Number((lat[lat.length - 1] ?? NaN).toFixed(2)),
    };
    process.stderr.write(
      `${backend.padEnd(8)} ${endpoint.padEnd(26)} ${String(r.reqPerSec).padStart(6)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  errors ${errors}\n`,
    );
    out.push(r);
  }
  return out;
}

async function benchServer(): Promise<Result[]> {
  const name = `seedcore_bench_api_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(SERVER_URL);
  u.pathname = `/${name}`;
  try {
    const db = await PostgresDb.open({ databaseUrl: u.toString(), poolSize: 2 });
    try {
      await migrate(db);
      await preload(db);
    } finally {
      await db.close();
    }
    const { child, url } = await startServe(['--database-url', u.toString()]);
    try {
      return await measure('postgres', url);
    } finally {
      await stopServe(child);
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function benchPglite(): Promise<Result[]> {
  const dir = mkdtempSync(join(tmpdir(), 'seedcore-bench-api-'));
  try {
    const db = await PGliteDb.open({ dataDir: dir });
    try {
      await migrate(db);
      await preload(db);
    } finally {
      await db.close();
    }
    const { child, url } = await startServe(['--data-dir', dir]);
    try {
      return await measure('pglite', url);
    } finally {
      await stopServe(child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [...(await benchServer()), ...(args.includes('--pglite') ? await benchPglite() : [])];
const get = results.find((r) => r.backend === 'postgres' && r.endpoint.startsWith('GET'));
process.stdout.write(
  `${JSON.stringify({ bench: 'api', node: process.version, concurrency: CONCURRENCY, seconds: SECONDS, preloadedTasks: PRELOAD, targetGetReqPerSec: 2000, meetsTarget: (get?.reqPerSec ?? 0) >= 2000, results }, null, 2)}\n`,
);
