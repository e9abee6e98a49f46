/**
 * bench:registry — 1,000 instances beating every ~5 s against one PostgreSQL.
 *
 *   DATABASE_URL=postgres://… npm run bench:registry        # ~60 s
 *   node dist/bench/registry.js --instances 1000 --seconds 50 --pool 10
 *
 * Real RegistryClient objects (base 4.5 s + jitter 1 s = 5 s mean), sharing one small pool,
 * started staggered over one beat period so the load is even. Meanwhile: lookups of random
 * logical ids (~20/s), one reconciler (every 5 s). Reported: beat and lookup latency
 * (client-side, including pool wait), fenced instances (should be 0), and the CPU time of
 * the PostgreSQL backends serving this bench (/proc/<pid>/stat utime+stime), as a share of
 * one core. Background processes (WAL writer, autovacuum) are not included.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PostgresDb, type Db, type Tx } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { RegistryClient, lookup, listActive, startReconciler } from '../src/registry/index.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set((process.argv[i] ?? '').replace(/^--/, ''), process.argv[i + 1] ?? '');
const INSTANCES = Number(args.get('instances') ?? 1000);
const SECONDS = Number(args.get('seconds') ?? 50);
const POOL = Number(args.get('pool') ?? 10);
const LOGICAL_IDS = 100;
const CLK_TCK = 100; // Linux USER_HZ

/** A Db that records how long each beat() statement takes, delegating everything else. */
function timed(db: Db, beats: number[]): Db {
  return {
    kind: db.kind,
    description: db.description,
    async query(sql, params) {
      if (!sql.startsWith('SELECT beat(')) return db.query(sql, params);
      const t = performance.now();
      try {
        return await db.query(sql, params);
      } finally {
        beats.push(performance.now() - t);
      }
    },
    transaction: <T>(fn: (tx: Tx) => Promise<T>) => db.transaction(fn),
    exec: (sql) => db.exec(sql),
    listen: (c, cb) => db.listen(c, cb),
    close: () => db.close(),
  } as Db;
}

function cpuTicks(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      // the backend exited; its time is lost, which only under-reports
    }
  }
  return total;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN).toFixed(2));
}

const base = process.env.DATABASE_URL;
if (!base) {
  process.stdout.write(`${JSON.stringify({ bench: 'registry', skipped: 'DATABASE_URL not set (the benchmark needs a PostgreSQL server)' })}\n`);
  process.exit(0);
}
const name = 'seedcore_bench_registry';
const admin = new pg.Client({ connectionString: base });
// Another session (e.g. a server-restart test) may terminate this connection: do not crash on it.
admin.on('error', () => undefined);
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${name}`);
const u = new URL(base);
u.pathname = `/${name}`;
const raw = await PostgresDb.open({ databaseUrl: u.toString(), poolSize: POOL, applicationName: 'seedcore-bench-registry' });
const beats: number[] = [];
const db = timed(raw, beats);
const clients: RegistryClient[] = [];
let fenced = 0;
let errors = 0;
try {
  await migrate(raw);
  const quiet = { info: () => undefined, warn: () => undefined };
  // Stagger the starts over one beat period, as a fleet restarting gradually would be.
  const t0 = performance.now();
  for (let i = 0; i < INSTANCES; i++) {
    const c = new RegistryClient(db, { logicalId: `organ_${i % LOGICAL_IDS}`, heartbeatBaseMs: 4500, heartbeatJitterMs: 1000, logger: quiet });
    c.on('fenced', () => fenced++);
    c.on('error', () => errors++);
    clients.push(c);
    void c.start().catch(() => errors++);
    const due = ((i + 1) / INSTANCES) * 5000;
    const late = due - (performance.now() - t0);
    if (late > 5) await sleep(late);
  }
  await sleep(1000);
  const registerSeconds = (performance.now() - t0) / 1000;
  const stopReconciler = startReconciler(raw, { intervalMs: 5000 });
  beats.length = 0;
  const pids = (await raw.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')).rows.map((r) => r.pid);
  const cpu0 = cpuTicks(pids);
  const w0 = performance.now();
  const lookups: number[] = [];
  let found = 0;
  while (performance.now() - w0 < SECONDS * 1000) {
    const t = performance.now();
    if (await lookup(raw, `organ_${Math.floor(Math.random() * LOGICAL_IDS)}`)) found++;
    lookups.push(performance.now() - t);
    await sleep(50);
  }
  const wall = (performance.now() - w0) / 1000;
  const cpuSeconds = (cpuTicks(pids) - cpu0) / CLK_TCK;
  const tList = performance.now();
  const active = await listActive(raw);
  const listMs = performance.now() - tList;
  await stopReconciler();
  const statuses = await raw.query<{ status: string; n: number }>('SELECT status::text, count(*)::int AS n FROM registry_instance GROUP BY 1 ORDER BY 1');
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'registry',
        instances: INSTANCES,
        poolSize: POOL,
        registerSeconds: Number(registerSeconds.toFixed(1)),
        measuredSeconds: Number(wall.toFixed(1)),
        beats: beats.length,
        beatsPerSecond: Number((beats.length / wall).toFixed(1)),
        beat_ms: { p50: pct(beats, 50), p95: pct(beats, 95), p99: pct(beats, 99), max: pct(beats, 100) },
        lookups: lookups.length,
        lookupsFound: found,
        lookup_ms: { p50: pct(lookups, 50), p95: pct(lookups, 95), p99: pct(lookups, 99) },
        listActive: { rows: active.length, ms: Number(listMs.toFixed(2)) },
        fenced,
        errors,
        dbBackendCpu: { seconds: Number(cpuSeconds.toFixed(2)), shareOfOneCore: Number((cpuSeconds / wall).toFixed(3)), backends: pids.length },
        statuses: Object.fromEntries(statuses.rows.map((r) => [r.status, r.n])),
        loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await raw.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
