/**
 * Full-text search over facts: websearch_to_tsquery (never raises on user input), ranked by
 * ts_rank_cd, highlighted by ts_headline on the returned page only, filtered by tags and
 * metadata containment, paged by keyset (rank, id) so pages never overlap or skip.
 */
import type { Queryable } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { FACT_COLUMNS, toFact, type FactRow } from './store.js';
import type { Fact, FactSearchHit, FactSearchOptions, FactSearchPage } from './types.js';
import { checkConfidence, checkObject, checkSearchOptions, checkTags, checkTimestamp, isUuid } from './validate.js';

/**
 * The vector matched and ranked: the generated column of migration 015, the first column of
 * idx_facts_text_search (016), whose tags and meta_data columns serve the filters in the same
 * GIN scan. Reading the stored vector also keeps a recheck from re-parsing the text.
 */
export const FACT_TSVECTOR = 'f.search_vector';

/**
 * The confidence tenths a fact reaches ({1..floor(10 × confidence)}), the fourth column of
 * idx_facts_text_search (migration 028), so minConfidence narrows the same GIN scan.
 */
export const FACT_CONFIDENCE_BANDS = 'facts_confidence_bands(f.confidence)';

/**
 * Ranking is not indexable: ts_rank_cd reads every candidate. A query matching more facts
 * than this ranks the first maxCandidates matches the scan yields (partition by partition,
 * then storage order: facts has 8 hash partitions, 016, and a scan stops at the cap, so a
 * common word builds the bitmap of one partition only). Below the cap ranking is exact; the
 * page says when the cap was hit (`truncated`). Measured on 1M facts (bench:facts,
 * PostgreSQL 15, 2 cores): a word in 45k facts ranked over 2,000 candidates 8 ms p50, all
 * 45k ranked exactly ~120 ms.
 */
export const DEFAULT_MAX_CANDIDATES = 2_000;

export const DEFAULT_SEARCH_LIMIT = 20;
export const MAX_SEARCH_LIMIT = 1000;

// ts_headline marks matches with these control characters; the text is HTML-escaped in
// JavaScript afterwards and only then are the marks turned into <b>…</b>, so a fact's own
// markup can never reach a page unescaped (the manual warns ts_headline output is not safe).
const MARK_ON = '\u0002';
const MARK_OFF = '\u0003';
const HEADLINE_OPTIONS = `StartSel=${MARK_ON}, StopSel=${MARK_OFF}, MaxWords=35, MinWords=15`;

type Cursor = { r: number; i: string } | { t: string; i: string };

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string, ranked: boolean): Cursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw invalidInput('cursor is malformed', { field: 'cursor' });
  }
  const o = c as Record<string, unknown>;
  const ok =
    typeof c === 'object' &&
    c !== null &&
    typeof o.i === 'string' &&
    isUuid(o.i) &&
    (ranked ? typeof o.r === 'number' && Number.isFinite(o.r) : typeof o.t === 'string' && isTimestamp(o.t));
  if (!ok)
    throw invalidInput(ranked ? 'cursor is malformed or belongs to a listing without a query' : 'cursor is malformed or belongs to a search with a query', {
      field: 'cursor',
    });
  return o as Cursor;
}

/** Strictly a timestamp PostgreSQL accepts (Date.parse also takes forms it rejects). */
function isTimestamp(t: string): boolean {
  try {
    checkTimestamp(t, 'cursor');
    return true;
  } catch {
    return false;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
}

// ts_headline would drop "<tag>"-like text as markup, so it is given the text with < and >
// swapped for two private-use characters, swapped back here before escaping.
const LT = '\uE000';
const GT = '\uE001';

export function renderSnippet(marked: string): string {
  return escapeHtml(marked.replaceAll(LT, '<').replaceAll(GT, '>')).replaceAll(MARK_ON, '<b>').replaceAll(MARK_OFF, '</b>');
}

/** A snippet as plain text for a terminal: matches between `*`, the fact's text as written. */
export function snippetToText(snippet: string): string {
  return snippet
    .replace(/<\/?b>/g, '*')
    .replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e] as string);
}

/**
 * The text search configuration's view of a string: < and > become spaces, as in the stored
 * vector (migration 019), so markup-like text is matched as words instead of skipped.
 */
export function tsQueryExpr(param: string): string {
  return `websearch_to_tsquery('english', translate(${param}, '<>', '  '))`;
}

interface HitRow extends FactRow {
  rank: number;
  text_rank: number;
  conflicts: number | string;
  candidates: number;
  headline: string | null;
  created_text: string;
}

/**
 * Not superseded at instant `at`: the predicate's policy (today's; policies have no history)
 * applied to the facts of the group that held at `at`, as facts_refresh_group (019) applies
 * it to the current ones for `superseded`: under latest_wins or highest_confidence a fact is
 * hidden when the winner among them (highest confidence first for highest_confidence, then
 * latest valid_from, latest created, highest id) states another value. Facts without a
 * subject skip it; for the others it is one look-up of idx_facts_predicate_subject.
 */
function supersededAt(at: string): string {
  return (
    `(f.subject IS NULL OR NOT EXISTS (SELECT 1 FROM fact_predicate_policies pp CROSS JOIN LATERAL (` +
    `SELECT coalesce(w.object, w.text) AS v FROM facts w WHERE w.predicate = f.predicate AND w.subject = f.subject ` +
    `AND coalesce(w.valid_from, w.created_at) <= ${at}::timestamptz AND (w.valid_to IS NULL OR w.valid_to > ${at}::timestamptz) ` +
    `ORDER BY CASE WHEN pp.policy = 'highest_confidence' THEN w.confidence END DESC NULLS LAST, ` +
    `coalesce(w.valid_from, w.created_at) DESC, w.created_at DESC, w.id DESC LIMIT 1) win ` +
    `WHERE pp.predicate = f.predicate AND pp.policy <> 'keep_both' AND win.v IS DISTINCT FROM coalesce(f.object, f.text)))`
  );
}

/** Open conflicts of a fact: two look-ups, one per side, so each uses its own index. */
function conflictCount(id: string): string {
  return (
    `((SELECT count(*) FROM fact_conflicts c WHERE c.fact_id = ${id} AND c.status = 'open') + ` +
    `(SELECT count(*) FROM fact_conflicts c WHERE c.other_fact_id = ${id} AND c.status = 'open'))`
  );
}

/** Search (or, without a query, list newest first) one page of facts. */
export async function searchFacts(db: Queryable, given: FactSearchOptions = {}): Promise<FactSearchPage> {
  // The schema of GET /api/facts first, so a bad option is named alike from every face.
  const options = checkSearchOptions(given);
  const query = options.query ?? '';
  if (typeof query !== 'string') throw invalidInput('query must be a string', { field: 'query' });
  const limit = options.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT)
    throw invalidInput(`limit must be an integer between 1 and ${MAX_SEARCH_LIMIT}`, { field: 'limit' });
  const tags = options.tags === undefined ? [] : checkTags(options.tags);
  const meta = options.meta === undefined ? undefined : checkObject(options.meta, 'meta');
  const ranked = query.trim() !== '';
  const cursor = options.cursor ? decodeCursor(options.cursor, ranked) : undefined;
  const asOf = options.asOf === undefined ? undefined : checkTimestamp(options.asOf, 'asOf');
  const minConfidence = options.minConfidence === undefined ? undefined : checkConfidence(options.minConfidence, 'minConfidence');
  const maxCandidates = options.maxCandidates ?? DEFAULT_MAX_CANDIDATES;
  if (!Number.isInteger(maxCandidates) || maxCandidates < 0)
    throw invalidInput('maxCandidates must be an integer >= 0 (0: no cap)', { field: 'maxCandidates' });

  // Only fixed fragments are assembled; every user value travels as a parameter.
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const where: string[] = [];
  let tsq = 'NULL::tsquery';
  if (ranked) {
    tsq = tsQueryExpr(p(query));
    where.push(`${FACT_TSVECTOR} @@ q.tsq`);
  }
  if (tags.length > 0) where.push(`f.tags ${options.allTags ? '@>' : '&&'} ${p(tags)}::text[]`);
  if (meta !== undefined) where.push(`f.meta_data @> ${p(JSON.stringify(meta))}::jsonb`);
  // Validity: facts holding at asOf, or now and not superseded by their predicate's policy.
  // These read columns of rows the scan fetches anyway, so they cost no extra I/O.
  if (asOf !== undefined) {
    const at = p(asOf);
    where.push(`coalesce(f.valid_from, f.created_at) <= ${at}::timestamptz AND (f.valid_to IS NULL OR f.valid_to > ${at}::timestamptz)`);
    where.push(supersededAt(at));
  } else where.push('NOT f.superseded AND coalesce(f.valid_from, f.created_at) <= now() AND (f.valid_to IS NULL OR f.valid_to > now())');
  if (minConfidence !== undefined) {
    const m = p(minConfidence);
    where.push(`f.confidence >= ${m}::float8`);
    // The same bound as an index condition (migration 028): facts carry the tenths their
    // confidence reaches, so the GIN scan skips facts below the bound's tenth and the exact
    // comparison above only sorts out the rest of that tenth.
    if (minConfidence >= 0.1) where.push(`${FACT_CONFIDENCE_BANDS} @> ARRAY[floor(${m}::float8 * 10)::int]`);
  }

  let sql: string;
  if (ranked) {
    // Candidates carry only what ranking needs (id, confidence, the text rank computed where
    // the row is read), so the window count and the sort handle narrow rows; the page's
    // full rows are read back by primary key, one look-up per hit.
    const cap = maxCandidates > 0 ? ` LIMIT ${p(maxCandidates)}` : '';
    const textRank = `ts_rank_cd(${FACT_TSVECTOR}, q.tsq, 32)::float8`;
    // With a cap, parallel workers would make "the first N matches" differ between runs, and a
    // later page could then repeat or skip facts. facts_search_serial() (migration 028) is
    // true and PARALLEL UNSAFE: PostgreSQL plans no parallel query for a statement naming a
    // parallel-unsafe function, so the scan is serial and yields one stable order, without a
    // transaction and SET LOCAL around it (three round trips). PGlite never runs parallel plans.
    const serial = maxCandidates > 0 ? ' AND facts_search_serial()' : '';
    const candidates = `SELECT f.id, f.confidence, ${textRank} AS text_rank FROM facts f, q WHERE ${where.join(' AND ')}${serial}${cap}`;
    // Relevance weighted by confidence: a fact nobody doubts keeps its text rank, one with
    // confidence 0 gets half of it (documented in the facts guide).
    const rankedRows = `SELECT c.id, c.text_rank, c.text_rank * (0.5 + 0.5 * c.confidence) AS rank, count(*) OVER () AS candidates FROM (${candidates}) c`;
    const after = cursor && 'r' in cursor ? ` WHERE (r.rank, r.id) < (${p(cursor.r)}::float8, ${p(cursor.i)}::uuid)` : '';
    const page = `SELECT r.* FROM (${rankedRows}) r${after} ORDER BY r.rank DESC, r.id DESC LIMIT ${p(limit + 1)}`;
    sql =
      `WITH q AS (SELECT ${tsq} AS tsq), page AS (${page}) ` +
      `SELECT ${FACT_COLUMNS}, page.rank, page.text_rank, page.candidates, f.created_at::text AS created_text, ` +
      // ts_headline re-parses the text, so it runs on the final page only.
      `ts_headline('english', translate(f.text, '<>', '${LT}${GT}'), q.tsq, '${HEADLINE_OPTIONS}') AS headline, ${conflictCount('f.id')} AS conflicts ` +
      `FROM page JOIN facts f ON f.id = page.id, q ORDER BY page.rank DESC, page.id DESC`;
  } else {
    if (cursor && 't' in cursor) where.push(`(f.created_at, f.id) < (${p(cursor.t)}::timestamptz, ${p(cursor.i)}::uuid)`);
    const page = `SELECT ${FACT_COLUMNS} FROM facts f${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY f.created_at DESC, f.id DESC LIMIT ${p(limit + 1)}`;
    sql =
      `SELECT page.*, 0::float8 AS rank, 0::float8 AS text_rank, 0::bigint AS candidates, page.created_at::text AS created_text, ` +
      `NULL::text AS headline, ${conflictCount('page.id')} AS conflicts FROM (${page}) page ORDER BY page.created_at DESC, page.id DESC`;
  }
  const res = await db.query<HitRow>(sql, params);
  const rows = res.rows.slice(0, limit);
  const hits: FactSearchHit[] = rows.map((r) => ({
    ...toFact(r),
    rank: Number(r.rank),
    text_rank: Number(r.text_rank),
    conflicts: Number(r.conflicts),
    snippet: renderSnippet(r.headline ?? r.text),
  }));
  const last = rows[rows.length - 1];
  const nextCursor =
    res.rows.length > limit && last ? encodeCursor(ranked ? { r: Number(last.rank), i: last.id } : { t: last.created_text, i: last.id }) : null;
  // The candidate count is the same on every row; an empty page means nothing matched.
  const truncated = maxCandidates > 0 && Number(res.rows[0]?.candidates ?? 0) >= maxCandidates;
  return { hits, nextCursor, truncated };
}

/** Every fact matching the options, following cursors (for small result sets and tests). */
export async function searchAllFacts(db: Queryable, options: Omit<FactSearchOptions, 'cursor'> = {}): Promise<Fact[]> {
  const out: Fact[] = [];
  let cursor: string | null = null;
  do {
    const page: FactSearchPage = await searchFacts(db, { ...options, ...(cursor ? { cursor } : {}) });
    out.push(...page.hits);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}
