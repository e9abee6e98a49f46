import type { Queryable } from '../db/types.js';
import { fromDbError } from '../errors.js';
import {
  EDGE_TYPES,
  EXPECTED_ENUMS,
  EXPECTED_FUNCTIONS,
  EXPECTED_INDEXES,
  EXPECTED_TABLES,
  EXPECTED_TRIGGERS,
  EXPECTED_VIEWS,
  SEED_VERIFICATION_QUERIES,
} from './catalogue.js';
import { formatQuarantine, quarantineReport, type QuarantineReport } from './quarantine.js';

export interface VerifyCheck {
  kind: 'extension' | 'table' | 'view' | 'function' | 'enum' | 'edge_type' | 'index' | 'trigger' | 'query';
  name: string;
  ok: boolean;
  detail?: string;
}

export interface VerifyReport {
  ok: boolean;
  checks: VerifyCheck[];
  missing: VerifyCheck[];
  /** Row counts returned by each of the original SeedCore's verification queries. */
  queries: { sql: string; rows: number }[];
  /** Rows an upgrade kept aside (not an error: `ok` does not depend on it); null when none were ever kept. */
  quarantine: QuarantineReport | null;
}

/**
 * Check the live catalogue against everything the schema promises and run the original
 * SeedCore's verification queries. Read-only: safe in a READ ONLY transaction and on a replica.
 */
export async function verifySchema(db: Queryable): Promise<VerifyReport> {
  const checks: VerifyCheck[] = [];

  const ext = await db.query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
  checks.push({ kind: 'extension', name: 'vector', ok: ext.rowCount > 0, ...(ext.rows[0] ? { detail: `pgvector ${ext.rows[0].extversion}` } : {}) });

  const rels = await db.query<{ relname: string; relkind: string }>(
    "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r','v','m','p','i','I')",
  );
  const kinds = new Map(rels.rows.map((r) => [r.relname, r.relkind]));
  for (const t of EXPECTED_TABLES) checks.push({ kind: 'table', name: t, ok: kinds.get(t) === 'r' || kinds.get(t) === 'p' });
  for (const v of EXPECTED_VIEWS) checks.push({ kind: 'view', name: v, ok: kinds.get(v) === 'v' || kinds.get(v) === 'm' });
  // 'I': the index of a partitioned table (facts, 016).
  for (const i of EXPECTED_INDEXES) checks.push({ kind: 'index', name: i, ok: kinds.get(i) === 'i' || kinds.get(i) === 'I' });

  const fns = await db.query<{ sig: string; ok: boolean }>('SELECT s AS sig, to_regprocedure(s) IS NOT NULL AS ok FROM unnest($1::text[]) AS s', [
    [...EXPECTED_FUNCTIONS],
  ]);
  for (const f of fns.rows) checks.push({ kind: 'function', name: f.sig, ok: f.ok });

  const enums = await db.query<{ typname: string; labels: string[] }>(
    'SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname = ANY($1::text[]) GROUP BY t.typname',
    [Object.keys(EXPECTED_ENUMS)],
  );
  const labels = new Map(enums.rows.map((r) => [r.typname, r.labels]));
  for (const [name, want] of Object.entries(EXPECTED_ENUMS)) {
    const have = labels.get(name);
    const missingLabels = want.filter((l) => !have?.includes(l));
    checks.push({
      kind: 'enum',
      name,
      ok: have !== undefined && missingLabels.length === 0,
      ...(missingLabels.length ? { detail: `missing labels: ${missingLabels.join(', ')}` } : {}),
    });
  }

  // Edge types are checked on the view's definition, so an empty graph still verifies.
  let viewDef = '';
  if (kinds.get('hgnn_edges') === 'v') viewDef = (await db.query<{ d: string }>("SELECT pg_get_viewdef('hgnn_edges'::regclass) AS d")).rows[0]?.d ?? '';
  for (const [edgeType, table] of Object.entries(EDGE_TYPES)) {
    const ok = viewDef.includes(`'${edgeType}'`) && new RegExp(`\\b${table}\\b`).test(viewDef);
    checks.push({ kind: 'edge_type', name: edgeType, ok, ...(ok ? {} : { detail: `hgnn_edges does not read ${table} as '${edgeType}'` }) });
  }

  const trg = await db.query<{ tgname: string; relname: string }>(
    'SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgname = ANY($1::text[])',
    [Object.keys(EXPECTED_TRIGGERS)],
  );
  const triggers = new Map(trg.rows.map((r) => [r.tgname, r.relname]));
  for (const [name, table] of Object.entries(EXPECTED_TRIGGERS))
    checks.push({ kind: 'trigger', name: `${name} on ${table}`, ok: triggers.get(name) === table });

  const queries: { sql: string; rows: number }[] = [];
  for (const sql of SEED_VERIFICATION_QUERIES) {
    try {
      const r = await db.query(sql);
      queries.push({ sql, rows: r.rowCount });
      checks.push({ kind: 'query', name: sql, ok: true, detail: `${r.rowCount} rows` });
    } catch (e) {
      checks.push({ kind: 'query', name: sql, ok: false, detail: fromDbError(e).message });
    }
  }

  const missing = checks.filter((c) => !c.ok);
  return { ok: missing.length === 0, checks, missing, queries, quarantine: await quarantineReport(db) };
}

const PLURAL: Record<VerifyCheck['kind'], string> = {
  extension: 'extensions',
  table: 'tables',
  view: 'views',
  function: 'functions',
  enum: 'enums',
  edge_type: 'edge types',
  index: 'indexes',
  trigger: 'triggers',
  query: 'seed queries',
};

export function formatVerifyReport(report: VerifyReport): string {
  const byKind = new Map<string, VerifyCheck[]>();
  for (const c of report.checks) byKind.set(c.kind, [...(byKind.get(c.kind) ?? []), c]);
  const lines: string[] = [];
  for (const [kind, list] of byKind) {
    const bad = list.filter((c) => !c.ok);
    lines.push(`${bad.length ? '✗' : '✓'} ${PLURAL[kind as VerifyCheck['kind']]}: ${list.length - bad.length}/${list.length}`);
    for (const c of bad) lines.push(`    MISSING ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
    if (kind === 'extension') for (const c of list.filter((x) => x.ok && x.detail)) lines.push(`    ${c.detail}`);
  }
  lines.push('seed verification queries:');
  for (const q of report.queries) lines.push(`    ${q.rows} rows  ${q.sql}`);
  const kept = formatQuarantine(report.quarantine);
  if (kept) lines.push(kept);
  lines.push(report.ok ? 'OK: the schema matches what the seed promises' : `FAILED: ${report.missing.length} missing`);
  return lines.join('\n');
}
