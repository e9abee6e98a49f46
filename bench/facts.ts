/**
 * bench:facts — full-text search latency over synthetic facts.
 *
 *   npm run bench:facts                         # server (DATABASE_URL) 1M rows + PGlite 100k
 *   node dist/bench/facts.js --backend postgres --rows 1000000 --queries 600
 *
 * Text: 8–21 words per fact drawn from a 20k-word vocabulary with a Zipf–Mandelbrot law
 * (P(k) ∝ 1/(k+50)), so the most common word is in ~4 % of facts, as a frequent content word
 * is in real prose once stop words are gone. Queries rotate over classes (common / mid / rare
 * single words, two-word AND, phrase, tag- and metadata-filtered), limit 20, one at a time
 * (closed loop), after a warm-up, first with the default candidate cap, then ranking every
 * match exactly. Facts carry a confidence (0.5..1.0, so the ranking weighs it) and 2 % of them
 * are invalidated (valid_to in the past), so every query also pays the validity filter; one
 * more query class filters by minimum confidence. The server database is created and dropped by the bench (--keep 1 keeps it,
 * --reuse 1 reuses a loaded one, migrating it first).
 *
 * Each run reports wall time and, when the server runs on this machine, the server backend's
 * CPU time per query (`cpu_ms`; PGlite: this process's), which other work on a shared machine
 * disturbs far less than wall time.
 *
 *   node dist/bench/facts.js --backend postgres --rows 1000000 --reuse 1 --keep 1 \
 *     --baseline ../seedcore-before/dist/src/facts/search.js
 *
 * A/B: `--baseline` names a built search module of another revision (a checkout built with
 * tsc); every query then runs with both, back to back, in an order that flips on each round
 * of the query classes, and the run ends with the ratios current / baseline.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { PGliteDb, PostgresDb, type Db } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { DEFAULT_MAX_CANDIDATES, searchFacts } from '../src/facts/index.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set((process.argv[i] ?? '').replace(/^--/, ''), process.argv[i + 1] ?? '');
const VOCAB = 20_000;
const Q = 50;

// Deterministic pseudo-words: syllables, so the English stemmer mostly leaves them alone.
const SYL = ['ka', 'lo', 'mi', 'ren', 'tu', 'sa', 'vor', 'ne', 'di', 'pal', 'gu', 'zet', 'bi', 'mor', 'fa', 'qui', 'hul', 'ter', 'wo', 'xan'];
function word(k: number): string {
  let s = '';
  let n = k + 400; // at least three syllables
  while (n > 0) {
    s += SYL[n % SYL.length];
    n = Math.floor(n / SYL.length);
  }
  return s;
}

function zipfRank(u: number): number {
  return Math.min(VOCAB, Math.max(1, Math.floor(Math.pow(VOCAB + Q, u) * Math.pow(Q, 1 - u) - Q) + 1));
}

async function load(db: Db, rows: number): Promise<number> {
  const t0 = performance.now();
  await db.exec(`CREATE TABLE IF NOT EXISTS bench_vocab (i int PRIMARY KEY, w text NOT NULL)`);
  await db.query('TRUNCATE bench_vocab');
  const ws = Array.from({ length: VOCAB }, (_, i) => word(i + 1));
  await db.query('INSERT INTO bench_vocab (i, w) SELECT * FROM unnest($1::int[], $2::text[])', [ws.map((_, i) => i + 1), ws]);
  // Bulk load without the GIN text index, then build it once (as one would for an import),
  // with the definition the migrations gave it.
  const def = await db.query<{ def: string }>("SELECT pg_get_indexdef('idx_facts_text_search'::regclass) AS def");
  // pg_get_indexdef of a partitioned index reads ON ONLY (the parent alone); built that way
  // it would stay invalid, without the partitions' indexes.
  const indexDef = def.rows[0]?.def.replace(' ON ONLY ', ' ON ');
  if (!indexDef) throw new Error('idx_facts_text_search is missing: migrate first');
  await db.exec('DROP INDEX IF EXISTS idx_facts_text_search');
  const batch = db.kind === 'postgres' ? 50_000 : 20_000;
  for (let start = 1; start <= rows; start += batch) {
    const end = Math.min(rows, start + batch - 1);
    await db.query(
      `INSERT INTO facts (text, tags, meta_data, confidence, valid_from, valid_to, invalid_reason)
       SELECT d.txt,
              ARRAY['tag' || (g % 50), 'tag' || ((g * 7) % 13)],
              jsonb_build_object('team', 'team' || (g % 10), 'tier', g % 3),
              0.5 + (g % 51) / 100.0,
              now() - interval '30 days',
              CASE WHEN g % 50 = 7 THEN now() - interval '1 day' END,
              CASE WHEN g % 50 = 7 THEN 'bench: invalidated' END
         FROM generate_series($1::int, $2::int) g
         CROSS JOIN LATERAL (
           SELECT string_agg(v.w, ' ') AS txt
             FROM generate_series(1, 8 + (g % 14)) k
             CROSS JOIN LATERAL (SELECT random() + 0 * g + 0 * k AS u) r
             JOIN bench_vocab v
               ON v.i = least(${VOCAB}, greatest(1, floor(power(${VOCAB + Q}::float8, r.u) * power(${Q}::float8, 1 - r.u) - ${Q})::int + 1))
         ) d`,
      [start, end],
    );
    process.stderr.write(`\r  loaded ${end}/${rows}`);
  }
  process.stderr.write('\n');
  if (db.kind === 'postgres') await db.exec("SET maintenance_work_mem = '512MB'");
  await db.exec(indexDef);
  await db.exec('VACUUM ANALYZE facts');
  return (performance.now() - t0) / 1000;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN).toFixed(2));
}

type QueryClass = 'common' | 'mid' | 'rare' | 'two_words' | 'phrase' | 'tag_filter' | 'meta_filter' | 'min_confidence';
const CLASSES: QueryClass[] = ['common', 'mid', 'rare', 'two_words', 'phrase', 'tag_filter', 'meta_filter', 'min_confidence'];

function makeQuery(cls: QueryClass, i: number): Parameters<typeof searchFacts>[1] {
  const pick = (lo: number, hi: number) => word(lo + ((i * 7919) % (hi - lo)));
  switch (cls) {
    case 'common':
      return { query: pick(1, 50) };
    case 'mid':
      return { query: pick(200, 2000) };
    case 'rare':
      return { query: pick(5000, VOCAB) };
    case 'two_words':
      return { query: `${pick(1, 100)} ${pick(100, 1000)}` };
    case 'phrase':
      return { query: `"${word(zipfRank(((i * 37) % 100) / 100))} ${word(zipfRank(((i * 53) % 100) / 100))}"` };
    case 'tag_filter':
      return { query: pick(20, 500), tags: [`tag${i % 50}`] };
    case 'meta_filter':
      return { query: pick(20, 500), meta: { team: `team${i % 10}` } };
    case 'min_confidence':
      return { query: pick(20, 500), minConfidence: 0.9 };
  }
}

type Search = typeof searchFacts;
interface Variant {
  name: string;
  search: Search;
}

/**
 * CPU time of the server backend serving `db`, in ms, when it runs on this machine (Linux:
 * /proc/<pid>/schedstat, nanoseconds); for PGlite, this process's CPU time. On a machine
 * other work loads, wall time mostly measures waiting for a core, the CPU time of the query
 * much less so. The pool has one connection, so every search runs on the same backend.
 */
async function cpuClock(db: Db): Promise<(() => number) | null> {
  if (db.kind !== 'postgres') {
    return () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
  }
  const pid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
  const file = `/proc/${pid}/schedstat`;
  try {
    readFileSync(file, 'utf8');
  } catch {
    return null; // the server is on another machine
  }
  return () => Number(readFileSync(file, 'utf8').split(' ')[0]) / 1e6;
}

function summary(xs: number[]) {
  return { p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99), mean: Number((xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)) };
}

/**
 * Run `queries` searches with each variant. With a baseline, every query runs once with each
 * variant back to back, and the order flips on every round of the query classes, so both
 * see the same data, the same load and the same share of cold pages.
 */
async function measure(db: Db, queries: number, maxCandidates: number, variants: Variant[]) {
  const cpu = await cpuClock(db);
  for (let i = 0; i < 30; i++)
    for (const v of variants) await v.search(db, { ...makeQuery(CLASSES[i % CLASSES.length] as QueryClass, i + 10_000), limit: 20, maxCandidates });
  const stats = variants.map(() => ({
    per: {} as Record<string, number[]>,
    all: [] as number[],
    cpuPer: {} as Record<string, number[]>,
    cpuAll: [] as number[],
    hits: 0,
    truncated: 0,
  }));
  for (let i = 0; i < queries; i++) {
    const cls = CLASSES[i % CLASSES.length] as QueryClass;
    const order = variants.map((_, k) => k);
    if (Math.floor(i / CLASSES.length) % 2 === 1) order.reverse();
    for (const k of order) {
      const st = stats[k] as (typeof stats)[number];
      const c0 = cpu?.() ?? 0;
      const t = performance.now();
      const page = await (variants[k] as Variant).search(db, { ...makeQuery(cls, i), limit: 20, maxCandidates });
      const ms = performance.now() - t;
      if (cpu) {
        const c = cpu() - c0;
        (st.cpuPer[cls] ??= []).push(c);
        st.cpuAll.push(c);
      }
      st.hits += page.hits.length;
      if (page.truncated) st.truncated++;
      (st.per[cls] ??= []).push(ms);
      st.all.push(ms);
    }
  }
  return variants.map((v, k) => {
    const st = stats[k] as (typeof stats)[number];
    return {
      ...(variants.length > 1 ? { variant: v.name } : {}),
      maxCandidates,
      queries,
      truncatedQueries: st.truncated,
      avgHits: Number((st.hits / queries).toFixed(1)),
      p50_ms: pct(st.all, 50),
      p95_ms: pct(st.all, 95),
      p99_ms: pct(st.all, 99),
      byClass: Object.fromEntries(Object.entries(st.per).map(([c, xs]) => [c, { p50: pct(xs, 50), p95: pct(xs, 95), max: pct(xs, 100) }])),
      ...(cpu
        ? {
            cpu_ms: { source: db.kind === 'postgres' ? 'server backend' : 'this process', ...summary(st.cpuAll) },
            cpuByClass: Object.fromEntries(Object.entries(st.cpuPer).map(([c, xs]) => [c, { p50: pct(xs, 50), p95: pct(xs, 95) }])),
          }
        : {}),
    };
  });
}

/** The variants to measure: searchFacts, and the one of --baseline (a built search.js of another revision) if given. */
async function variantsToRun(): Promise<Variant[]> {
  const out: Variant[] = [{ name: 'current', search: searchFacts }];
  const path = args.get('baseline');
  if (path) {
    const mod = (await import(pathToFileURL(resolve(path)).href)) as { searchFacts?: Search };
    if (typeof mod.searchFacts !== 'function') throw new Error(`${path} exports no searchFacts`);
    out.push({ name: `baseline ${path}`, search: mod.searchFacts });
  }
  return out;
}

/** The default candidate cap, then exact ranking of every match (maxCandidates 0) on fewer queries. */
async function measureModes(db: Db, queries: number) {
  const modes = (args.get('modes') ?? `${DEFAULT_MAX_CANDIDATES},0`).split(',').map(Number);
  const variants = await variantsToRun();
  const out = [];
  for (const m of modes) {
    const runs = await measure(db, m === 0 ? Math.min(queries, Number(args.get('exact-queries') ?? 140)) : queries, m, variants);
    out.push(...runs);
    const [cur, base] = runs;
    if (cur && base) {
      const r = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : Number((a / b).toFixed(2)));
      out.push({
        maxCandidates: m,
        ratio_current_to_baseline: {
          p50: r(cur.p50_ms, base.p50_ms),
          p95: r(cur.p95_ms, base.p95_ms),
          cpu_p50: r(cur.cpu_ms?.p50, base.cpu_ms?.p50),
          cpu_p95: r(cur.cpu_ms?.p95, base.cpu_ms?.p95),
          cpu_mean: r(cur.cpu_ms?.mean, base.cpu_ms?.mean),
        },
      });
    }
  }
  return out;
}

async function runServer(rows: number, queries: number) {
  const base = process.env.DATABASE_URL;
  if (!base) return { skipped: 'DATABASE_URL not set' };
  const name = 'seedcore_bench_facts';
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const reuse = args.get('reuse') === '1';
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  if (!reuse || !exists) {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  const db = await PostgresDb.open({ databaseUrl: u.toString(), poolSize: 1 });
  try {
    await migrate(db);
    const have = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts');
    const loadSeconds = (have.rows[0]?.n ?? 0) >= rows ? null : await load(db, rows);
    const size = await db.query<{ n: number; idx: string }>(
      "SELECT count(*)::int AS n, (SELECT pg_size_pretty(sum(pg_relation_size(relid))) FROM pg_partition_tree('idx_facts_text_search')) AS idx FROM facts",
    );
    return {
      backend: 'postgres',
      rows: size.rows[0]?.n,
      loadSeconds: loadSeconds && Number(loadSeconds.toFixed(1)),
      ftsIndexSize: size.rows[0]?.idx,
      runs: await measureModes(db, queries),
    };
  } finally {
    await db.close();
    if (args.get('keep') !== '1') await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function runPglite(rows: number, queries: number) {
  const db = await PGliteDb.open({});
  try {
    await migrate(db);
    const loadSeconds = await load(db, rows);
    const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM facts');
    return { backend: 'pglite', rows: n.rows[0]?.n, loadSeconds: Number(loadSeconds.toFixed(1)), runs: await measureModes(db, queries) };
  } finally {
    await db.close();
  }
}

const backend = args.get('backend') ?? 'both';
const queries = Number(args.get('queries') ?? 700);
const results: unknown[] = [];
if (backend === 'both' || backend === 'postgres') results.push(await runServer(Number(args.get('rows') ?? 1_000_000), queries));
if (backend === 'both' || backend === 'pglite') results.push(await runPglite(Number(args.get('pglite-rows') ?? args.get('rows') ?? 100_000), queries));
process.stdout.write(`${JSON.stringify({ bench: 'facts', target: 'server p95 <= 20 ms at 1M rows', results }, null, 2)}\n`);
