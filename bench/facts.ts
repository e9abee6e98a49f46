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
 * --reuse 1 reuses a loaded one).
 */
import { performance } from 'node:perf_hooks';
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
  // Bulk load without the GIN text index, then build it once (as one would for an import).
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
  await db.exec(`CREATE INDEX idx_facts_text_search ON facts USING gin (search_vector, tags, meta_data jsonb_path_ops)`);
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

async function measure(db: Db, queries: number, maxCandidates: number) {
  for (let i = 0; i < 30; i++) await searchFacts(db, { ...makeQuery(CLASSES[i % CLASSES.length] as QueryClass, i + 10_000), limit: 20, maxCandidates });
  const per: Record<string, number[]> = {};
  const all: number[] = [];
  let hits = 0;
  let truncated = 0;
  for (let i = 0; i < queries; i++) {
    const cls = CLASSES[i % CLASSES.length] as QueryClass;
    const t = performance.now();
    const page = await searchFacts(db, { ...makeQuery(cls, i), limit: 20, maxCandidates });
    const ms = performance.now() - t;
    hits += page.hits.length;
    if (page.truncated) truncated++;
    (per[cls] ??= []).push(ms);
    all.push(ms);
  }
  const byClass = Object.fromEntries(Object.entries(per).map(([k, v]) => [k, { p50: pct(v, 50), p95: pct(v, 95), max: pct(v, 100) }]));
  return {
    maxCandidates,
    queries,
    truncatedQueries: truncated,
    avgHits: Number((hits / queries).toFixed(1)),
    p50_ms: pct(all, 50),
    p95_ms: pct(all, 95),
    p99_ms: pct(all, 99),
    byClass,
  };
}

/** The default candidate cap, then exact ranking of every match (maxCandidates 0) on fewer queries. */
async function measureModes(db: Db, queries: number) {
  const modes = (args.get('modes') ?? `${DEFAULT_MAX_CANDIDATES},0`).split(',').map(Number);
  const out = [];
  for (const m of modes) out.push(await measure(db, m === 0 ? Math.min(queries, Number(args.get('exact-queries') ?? 140)) : queries, m));
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
  const db = await PostgresDb.open({ databaseUrl: u.toString(), poolSize: 2 });
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
