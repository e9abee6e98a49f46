/**
 * The ANN index on graph_embeddings.emb (idx_graph_embeddings_emb, name kept from 002):
 * rebuild with parameters fitted to the row count, remember them in the index's COMMENT,
 * and publish the matching search settings as database defaults so that a plain
 * `ORDER BY emb <-> $1 LIMIT k` from any new session reaches the recall target.
 *
 * Sizing (pgvector README): IVFFlat lists ≈ rows/1000 up to 1M rows, sqrt(rows) beyond;
 * probes start at sqrt(lists) — we use 2·sqrt(lists) (PROBES_FACTOR) as a recall margin:
 * bench:graph measured recall@10 0.996 with lists 100 / probes 20 on 100k clustered vectors.
 * HNSW (the default since 014; better speed at equal recall in the same bench) needs no
 * rebuild as data grows.
 */
import { ADVISORY_LOCKS } from '../advisory-locks.js';
import type { Db, Queryable } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { calibrate, ladder, type Calibration } from './ann-calibrate.js';

export const INDEX_NAME = 'idx_graph_embeddings_emb';
export type IndexMethod = 'ivfflat' | 'hnsw';

/** Multiplier on sqrt(lists) for ivfflat.probes; see the module comment. */
export const PROBES_FACTOR = 2;
/** hnsw.ef_search after a rebuild and in 014 (pgvector's default is 40; 100 trades ~1 ms for recall). */
export const HNSW_EF_SEARCH = 100;
/** Calibration target for recall@10 on sampled rows (see ReindexOptions.targetRecall). */
export const DEFAULT_TARGET_RECALL = 0.97;
/** The table must have doubled since the last build before an automatic IVFFlat rebuild. */
export const REBUILD_GROWTH = 2;

export interface IndexInfo {
  method: IndexMethod | 'none';
  /** Rows when the index was built (undefined: built by the migration, on an empty table). */
  rows?: number;
  lists?: number;
  probes?: number;
  m?: number;
  ef_construction?: number;
  ef_search?: number;
  built_at?: string;
  /** recall@10 the calibration measured with the chosen setting. */
  calibrated_recall?: number;
}

export async function indexInfo(q: Queryable): Promise<IndexInfo> {
  const r = await q.query<{ amname: string; comment: string | null }>(
    `SELECT am.amname, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_class c JOIN pg_am am ON am.oid = c.relam
      WHERE c.oid = to_regclass($1)`,
    [INDEX_NAME],
  );
  const row = r.rows[0];
  if (!row) return { method: 'none' };
  const method = row.amname === 'hnsw' ? 'hnsw' : 'ivfflat';
  let meta: Partial<IndexInfo> = {};
  try {
    meta = row.comment ? (JSON.parse(row.comment) as Partial<IndexInfo>) : {};
  } catch {
    meta = {};
  }
  // Without our metadata the index is the migration's (ivfflat lists = 100 on an empty
  // table): probing every list is the only way not to miss rows.
  if (method === 'ivfflat') return { ...meta, method, lists: meta.lists ?? 100, probes: meta.probes ?? meta.lists ?? 100 };
  return { ...meta, method, ef_search: meta.ef_search ?? HNSW_EF_SEARCH };
}

/**
 * Index metadata per database handle, re-read at most every INFO_TTL_MS: a kNN query then
 * costs one round trip less. A rebuild in this process invalidates it at once; one in
 * another process is seen within the TTL (until then queries use the old probes value).
 */
const INFO_TTL_MS = 2000;
const infoCache = new WeakMap<Db, { info: IndexInfo; at: number }>();

export async function cachedIndexInfo(db: Db, q: Queryable = db): Promise<IndexInfo> {
  const hit = infoCache.get(db);
  if (hit && performance.now() - hit.at < INFO_TTL_MS) return hit.info;
  const info = await indexInfo(q);
  infoCache.set(db, { info, at: performance.now() });
  return info;
}

export interface ReindexOptions {
  /** Index method. @defaultValue the current index's method ('hnsw' when there is none) */
  method?: IndexMethod;
  lists?: number;
  probes?: number;
  m?: number;
  efConstruction?: number;
  efSearch?: number;
  /** Only rebuild if no other session is rebuilding (used by the automatic rebuild). */
  skipIfBusy?: boolean;
  /**
   * Raise probes / ef_search after the build until recall@10 on sampled rows reaches this
   * (0 turns calibration off; skipped when the search setting was given explicitly).
   * The default sits above the 0.95 goal because the sample queries are stored rows, a
   * little easier than fresh queries (bench:graph, overlapping clusters: sample ≥ 0.95 at
   * ef_search 400 gave 0.945 on fresh queries).
   * @defaultValue 0.97
   */
  targetRecall?: number;
  /** Rows sampled as calibration queries. @defaultValue 20 */
  calibrationQueries?: number;
}

export interface ReindexResult extends IndexInfo {
  rebuilt: boolean;
  calibration?: Calibration;
  /** Whether ALTER DATABASE … SET succeeded (needs ownership of the database). */
  database_defaults: boolean;
  ms: number;
}

function positiveInt(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw invalidInput(`${name} must be a positive integer`);
}

/** Rebuild the ANN index with parameters chosen from the row count (or given), and publish search defaults. */
export async function reindex(db: Db, options: ReindexOptions = {}): Promise<ReindexResult> {
  for (const k of ['lists', 'probes', 'm', 'efConstruction', 'efSearch'] as const) positiveInt(k, options[k]);
  if (options.method !== undefined && options.method !== 'ivfflat' && options.method !== 'hnsw') throw invalidInput("method must be 'ivfflat' or 'hnsw'");
  const t0 = performance.now();
  infoCache.delete(db);
  const built = await db.transaction(async (tx): Promise<IndexInfo | undefined> => {
    // Two workers noticing growth at once must not both drop and rebuild.
    if (db.kind === 'postgres') {
      const lock = await tx.query<{ ok: boolean }>(
        options.skipIfBusy ? 'SELECT pg_try_advisory_xact_lock($1) AS ok' : 'SELECT true AS ok FROM (SELECT pg_advisory_xact_lock($1)) s',
        [ADVISORY_LOCKS.annReindex],
      );
      if (lock.rows[0]?.ok !== true) return undefined;
    }
    const current = await indexInfo(tx);
    const method: IndexMethod = options.method ?? (current.method === 'ivfflat' ? 'ivfflat' : 'hnsw');
    const rows = Number((await tx.query<{ n: number | string }>('SELECT count(*) AS n FROM graph_embeddings')).rows[0]?.n ?? 0);
    const info: IndexInfo = { method, rows, built_at: new Date().toISOString() };
    // Memory for the build; the HNSW graph should fit (about 1 KB per 128-d vector).
    await tx.query(`SET LOCAL maintenance_work_mem = '${db.kind === 'pglite' ? '256MB' : '1GB'}'`);
    await tx.query(`DROP INDEX IF EXISTS ${INDEX_NAME}`);
    if (method === 'ivfflat') {
      const lists = options.lists ?? Math.max(1, rows <= 1_000_000 ? Math.round(rows / 1000) : Math.round(Math.sqrt(rows)));
      const probes = Math.min(lists, options.probes ?? Math.max(1, Math.ceil(Math.sqrt(lists) * PROBES_FACTOR)));
      Object.assign(info, { lists, probes });
      await tx.query(`CREATE INDEX ${INDEX_NAME} ON graph_embeddings USING ivfflat (emb vector_l2_ops) WITH (lists = ${lists})`);
    } else {
      const m = options.m ?? 16;
      const efc = Math.max(options.efConstruction ?? 64, 2 * m);
      Object.assign(info, { m, ef_construction: efc, ef_search: options.efSearch ?? HNSW_EF_SEARCH });
      await tx.query(`CREATE INDEX ${INDEX_NAME} ON graph_embeddings USING hnsw (emb vector_l2_ops) WITH (m = ${m}, ef_construction = ${efc})`);
    }
    const comment = JSON.stringify(info).replace(/'/g, "''");
    await tx.query(`COMMENT ON INDEX ${INDEX_NAME} IS '${comment}'`);
    return info;
  });
  infoCache.delete(db);
  if (!built) return { ...(await indexInfo(db)), rebuilt: false, database_defaults: false, ms: performance.now() - t0 };
  await db.query('ANALYZE graph_embeddings');
  let calibration: Calibration | undefined;
  const target = options.targetRecall ?? DEFAULT_TARGET_RECALL;
  const queries = options.calibrationQueries ?? 20;
  if (target > 0 && (built.rows ?? 0) > 10 * queries) {
    if (built.method === 'ivfflat' && options.probes === undefined && (built.lists ?? 1) > 1)
      calibration = await calibrate(db, 'ivfflat.probes', ladder(built.probes ?? 1, built.lists ?? 1), target, queries);
    if (built.method === 'hnsw' && options.efSearch === undefined)
      calibration = await calibrate(db, 'hnsw.ef_search', ladder(built.ef_search ?? HNSW_EF_SEARCH, 1000), target, queries);
    if (calibration) {
      if (built.method === 'ivfflat') built.probes = calibration.chosen;
      else built.ef_search = calibration.chosen;
      built.calibrated_recall = calibration.recall;
      await db.query(`COMMENT ON INDEX ${INDEX_NAME} IS '${JSON.stringify(built).replace(/'/g, "''")}'`);
      infoCache.delete(db);
    }
  }
  const database_defaults = await publishSearchDefaults(db, built);
  return { ...built, rebuilt: true, ...(calibration ? { calibration } : {}), database_defaults, ms: performance.now() - t0 };
}

/**
 * Database-level defaults for new sessions (ALTER DATABASE … SET), plus the current
 * session (PGlite has only one, and it is already open).
 */
async function publishSearchDefaults(db: Db, info: IndexInfo): Promise<boolean> {
  const settings: Array<[string, number]> =
    info.method === 'ivfflat' ? [['ivfflat.probes', info.probes ?? 1]] : [['hnsw.ef_search', info.ef_search ?? HNSW_EF_SEARCH]];
  let ok = true;
  for (const [name, value] of settings) {
    try {
      await db.query(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET ${name} = ${value}', current_database()); END $$`);
    } catch {
      ok = false;
    }
    if (db.kind === 'pglite') await db.query(`SET ${name} = ${value}`);
  }
  return ok;
}

/**
 * Rebuild automatically when the table has outgrown an IVFFlat index: one built by 002 (no
 * metadata; 014 replaces it with HNSW unless it was tuned) or REBUILD_GROWTH× smaller than
 * the table. Cheap when nothing
 * is due: one catalogue read and one count.
 */
export async function maybeReindex(db: Db): Promise<ReindexResult | undefined> {
  const info = await indexInfo(db);
  if (info.method === 'none') return reindex(db, { skipIfBusy: true });
  // HNSW is maintained per insert: nothing to rebuild (014 published its search default).
  if (info.method === 'hnsw') return undefined;
  const rows = Number((await db.query<{ n: number | string }>('SELECT count(*) AS n FROM graph_embeddings')).rows[0]?.n ?? 0);
  if (rows === 0) return undefined;
  if (info.rows === undefined || rows >= REBUILD_GROWTH * Math.max(info.rows, 500)) return reindex(db, { skipIfBusy: true });
  return undefined;
}
