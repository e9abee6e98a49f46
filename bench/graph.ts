/**
 * bench:graph — vector search (100k × 128 vectors), FastRP (100k nodes, 500k edges) and export (1M edges).
 *
 *   npm run bench:graph                                   # server (DATABASE_URL) + PGlite
 *   node dist/bench/graph.js --backend postgres --rows 100000 --queries 200 --edges 1000000
 *
 * Vectors: `rows` × 128 around `clusters` (1000) centres drawn uniformly from [-1, 1]^128,
 * Gaussian noise `sigma` (0.35) per dimension (a cluster's radius ≈ 4, centres ≈ 9 apart;
 * --sigma 1 makes clusters overlap, a much harder set). Queries are fresh
 * draws from the same mixture. For each backend, in one run: exact scan (index disabled) as
 * ground truth, then IVFFlat and HNSW as `embeddings reindex` builds them, each queried
 * through the API (knn()) and through plain SQL on a new session (database defaults only).
 * FastRP: 100k nodes / 500k random edges, in process. Export: a DGL CSVDataset of an agent
 * graph with `edges` collab edges (100k agents), streamed through a cursor.
 * The server database is created and dropped by the bench.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PGliteDb, PostgresDb, type Db } from '../src/db/index.js';
import { reindex } from '../src/graph/ann-index.js';
import { knn, upsertEmbeddings } from '../src/graph/embeddings.js';
import { exportDgl, exportEdgeList } from '../src/graph/export.js';
import { fastRP } from '../src/graph/fastrp.js';
import { migrate } from '../src/migrate/runner.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set((process.argv[i] ?? '').replace(/^--/, ''), process.argv[i + 1] ?? '');
const ROWS = Number(args.get('rows') ?? 100_000);
const QUERIES = Number(args.get('queries') ?? 200);
const EDGES = Number(args.get('edges') ?? 1_000_000);
const SERVER = process.env.DATABASE_URL;
const BACKENDS = (args.get('backend') ?? (SERVER ? 'postgres,pglite' : 'pglite')).split(',');
const log = (s: string): void => void process.stderr.write(`${s}\n`);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const r = rng(20261126);
const gauss = (): number => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
const SIGMA = Number(args.get('sigma') ?? 0.35);
const CENTRES = Array.from({ length: Number(args.get('clusters') ?? 1000) }, () => Float32Array.from({ length: 128 }, () => r() * 2 - 1));
const draw = (): number[] => Array.from(CENTRES[Math.floor(r() * CENTRES.length)] as Float32Array, (c) => c + SIGMA * gauss());

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0).toFixed(3));
}
const lit = (v: number[]): string => `[${v.join(',')}]`;

async function openBackend(kind: string): Promise<{ db: Db; url?: string; drop(): Promise<void> }> {
  if (kind === 'pglite') {
    const db = await PGliteDb.open({});
    await migrate(db);
    return { db, drop: () => db.close() };
  }
  if (!SERVER) throw new Error('postgres backend needs DATABASE_URL');
  const name = `seedcore_bench_graph_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(SERVER);
  u.pathname = `/${name}`;
  const db = await PostgresDb.open({ databaseUrl: u.toString(), poolSize: 4 });
  await migrate(db);
  return {
    db,
    url: u.toString(),
    async drop() {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

interface Measured {
  recall_at_10: number;
  p50_ms: number;
  p99_ms: number;
}

async function vectorBench(db: Db, url: string | undefined): Promise<Record<string, unknown>> {
  log(`  mapping ${ROWS} nodes`);
  await db.query(`INSERT INTO model (model_name) SELECT 'm' || g FROM generate_series(1, $1::int) g`, [ROWS]);
  await db.query(`INSERT INTO graph_node_map (node_type, ext_table, ext_text_id) SELECT 'model', 'model', model_name FROM model ORDER BY model_name`);
  const ids = (await db.query<{ id: number | string }>('SELECT node_id AS id FROM graph_node_map ORDER BY node_id')).rows.map((x) => Number(x.id));
  log('  loading vectors');
  let t = performance.now();
  for (let at = 0; at < ids.length; at += 5000)
    await upsertEmbeddings(
      db,
      ids.slice(at, at + 5000).map((nodeId) => ({ nodeId, vector: draw() })),
      { autoReindex: false },
    );
  const loadMs = performance.now() - t;
  await db.query('ANALYZE graph_embeddings');
  const queries = Array.from({ length: QUERIES }, draw);

  log('  exact scan');
  const truth: number[][] = [];
  const exactLat: number[] = [];
  for (const q of queries) {
    t = performance.now();
    const rows = await db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_indexscan = off');
      return (await tx.query<{ node_id: number | string }>('SELECT node_id FROM graph_embeddings ORDER BY emb <-> $1::vector LIMIT 10', [lit(q)])).rows;
    });
    exactLat.push(performance.now() - t);
    truth.push(rows.map((x) => Number(x.node_id)));
  }
  const exact = { p50_ms: pct(exactLat, 50), p99_ms: pct(exactLat, 99) };

  const measure = async (run: (q: number[]) => Promise<number[]>): Promise<Measured> => {
    for (const q of queries.slice(0, 10)) await run(q); // warm-up
    const lat: number[] = [];
    let hit = 0;
    for (const [i, q] of queries.entries()) {
      const s = performance.now();
      const got = new Set(await run(q));
      lat.push(performance.now() - s);
      hit += (truth[i] as number[]).filter((x) => got.has(x)).length;
    }
    return { recall_at_10: Number((hit / (10 * queries.length)).toFixed(4)), p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
  };
  const plainSql = async (): Promise<Measured> => {
    const sql = 'SELECT node_id FROM graph_embeddings ORDER BY emb <-> $1::vector LIMIT 10';
    if (!url) return measure(async (q) => (await db.query<{ node_id: number }>(sql, [lit(q)])).rows.map((x) => Number(x.node_id)));
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await measure(async (q) => (await c.query<{ node_id: string }>(sql, [lit(q)])).rows.map((x) => Number(x.node_id)));
    } finally {
      await c.end();
    }
  };
  const out: Record<string, unknown> = { rows: ROWS, queries: QUERIES, sigma: SIGMA, clusters: CENTRES.length, load_ms: Math.round(loadMs), exact };
  for (const method of ['ivfflat', 'hnsw'] as const) {
    log(`  ${method}: build`);
    const built = await reindex(db, { method });
    log(`  ${method}: built in ${Math.round(built.ms)} ms; querying`);
    const api = await measure(async (q) => (await knn(db, { vector: q }, { k: 10 })).map((h) => h.node_id));
    const sql = await plainSql();
    out[method] = {
      params: { lists: built.lists, probes: built.probes, m: built.m, ef_construction: built.ef_construction, ef_search: built.ef_search },
      build_ms: Math.round(built.ms),
      calibration: built.calibration?.tried,
      api,
      plain_sql: sql,
      speedup_vs_exact_p50: Number((exact.p50_ms / api.p50_ms).toFixed(1)),
      plain_sql_speedup_vs_exact_p50: Number((exact.p50_ms / sql.p50_ms).toFixed(1)),
    };
    log(`  ${method}: ${JSON.stringify(out[method])}`);
  }
  return out;
}

async function exportBench(db: Db): Promise<Record<string, unknown>> {
  const agents = 100_000;
  const perAgent = Math.ceil(EDGES / agents);
  log(`  building ${agents} agents / ${agents * perAgent} collab edges`);
  let t = performance.now();
  await db.query(`INSERT INTO agent_registry (agent_id) SELECT 'a' || g FROM generate_series(0, $1::int - 1) g`, [agents]);
  await db.query(`INSERT INTO graph_node_map (node_type, ext_table, ext_text_id) SELECT 'agent', 'agent_registry', agent_id FROM agent_registry`);
  // Endpoints are mapped above, so the per-row mapping trigger is skipped for the bulk load
  // (session_replication_role = replica disables triggers and FK checks in this transaction).
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL session_replication_role = replica');
    await tx.query(
      `INSERT INTO agent_collab_agent (src_agent, dst_agent)
       SELECT 'a' || i, 'a' || ((i + k * 9973) % $1::int) FROM generate_series(0, $1::int - 1) i, generate_series(1, $2::int) k`,
      [agents, perAgent],
    );
  });
  await db.query('ANALYZE');
  const buildMs = performance.now() - t;
  const dir = mkdtempSync(join(tmpdir(), 'seedcore-bench-dgl-'));
  try {
    t = performance.now();
    const dgl = await exportDgl(db, join(dir, 'dgl'));
    const dglMs = performance.now() - t;
    t = performance.now();
    const el = await exportEdgeList(db, join(dir, 'edges.csv'));
    const elMs = performance.now() - t;
    return {
      edges: dgl.edge_files.reduce((a, f) => a + f.rows, 0),
      nodes: dgl.node_files.reduce((a, f) => a + f.rows, 0),
      load_ms: Math.round(buildMs),
      dgl_export_ms: Math.round(dglMs),
      edgelist_export_ms: Math.round(elMs),
      edgelist_rows: el.rows,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fastrpBench(): Record<string, unknown> {
  const n = 100_000;
  const m = 500_000;
  const g = rng(7);
  const src = new Int32Array(m);
  const dst = new Int32Array(m);
  for (let e = 0; e < m; e++) {
    src[e] = Math.floor(g() * n);
    dst[e] = Math.floor(g() * n);
  }
  const ids = Float64Array.from({ length: n }, (_, i) => i + 1);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    fastRP({ nodeIds: ids, src, dst });
    times.push(performance.now() - t);
  }
  return { nodes: n, edges: m, dim: 128, iterations: 3, runs_ms: times.map(Math.round), best_ms: Math.round(Math.min(...times)) };
}

const result: Record<string, unknown> = { machine: `${process.platform} ${process.arch}, node ${process.version}` };
log('fastrp');
result.fastrp = fastrpBench();
log(JSON.stringify(result.fastrp));
for (const kind of BACKENDS) {
  log(`backend ${kind}`);
  const b = await openBackend(kind);
  try {
    const vectors = args.get('skip-vectors') ? undefined : await vectorBench(b.db, b.url);
    const exp = args.get('skip-export') ? undefined : await exportBench(b.db);
    result[kind] = { vectors, export: exp };
  } finally {
    await b.drop();
  }
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
