/** Create, read, update and delete facts; ids may be given in full or as a unique prefix. */
import type { Db, Queryable } from '../db/types.js';
import { SeedCoreError, invalidInput, notFound } from '../errors.js';
import { FACT_SOURCE_KINDS, type Fact, type FactClaim, type FactPatch, type FactSourceInput, type FactVersion, type NewFact } from './types.js';
import { assertSchema } from '../schema-check.js';
import { FactInputSchema, FactInvalidationSchema, FactPatchSchema } from './schemas.js';
import {
  badField,
  checkConfidence,
  checkObject,
  checkOptionalString,
  checkTags,
  checkText,
  checkTimestamp,
  checkUuid,
  checkUuidList,
  isUuid,
} from './validate.js';

/**
 * Check `input` against its schema (the one the HTTP routes use), with the library's Dates
 * as the ISO text the schema speaks. Returns nothing: the caller goes on with its own object.
 */
function checkInput(schema: Parameters<typeof assertSchema>[0], input: unknown, dates: readonly string[]): void {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    assertSchema(schema, input);
    return;
  }
  const wire: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const k of dates) {
    const v = wire[k];
    if (v instanceof Date) wire[k] = Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  }
  assertSchema(schema, wire);
}

export const FACT_COLUMNS =
  'f.id, f.text, f.tags, f.meta_data, f.subject, f.predicate, f.object, f.confidence, coalesce(f.valid_from, f.created_at) AS valid_from, f.valid_to, f.invalid_reason, f.version, f.superseded, f.created_at, f.updated_at';

export interface FactRow {
  id: string;
  text: string;
  tags: string[] | null;
  meta_data: Record<string, unknown> | null;
  subject: string | null;
  predicate: string | null;
  object: string | null;
  confidence: number | string;
  valid_from: Date;
  valid_to: Date | null;
  invalid_reason: string | null;
  version: number;
  superseded: boolean;
  created_at: Date;
  updated_at: Date;
}

/** Normalise a row: the columns are nullable in the original schema, callers get [] and {}. */
export function toFact(r: FactRow): Fact {
  return {
    id: r.id,
    text: r.text,
    tags: r.tags ?? [],
    meta_data: r.meta_data ?? {},
    subject: r.subject,
    predicate: r.predicate,
    object: r.object,
    confidence: Number(r.confidence),
    valid_from: r.valid_from,
    valid_to: r.valid_to,
    invalid_reason: r.invalid_reason,
    version: Number(r.version),
    superseded: r.superseded,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

/** Run `fn` in a transaction: the database's own, or the one `q` already is. */
export async function inTransaction<T>(q: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  const db = q as Partial<Db>;
  return typeof db.transaction === 'function' && typeof db.kind === 'string' ? db.transaction(fn) : fn(q);
}

export function checkSources(v: unknown): FactSourceInput[] {
  if (!Array.isArray(v)) throw invalidInput('sources must be an array of { kind, ref }', { field: 'sources' });
  if (v.length > 100) throw invalidInput('a fact may have at most 100 sources', { field: 'sources' });
  return v.map((s: unknown, i) => {
    const field = `sources.${i}`;
    if (typeof s !== 'object' || s === null) throw invalidInput(`${field} must be an object { kind, ref }`, { field });
    const { kind, ref } = s as Record<string, unknown>;
    if (typeof kind !== 'string' || !(FACT_SOURCE_KINDS as readonly string[]).includes(kind))
      throw invalidInput(`${field}.kind must be one of ${FACT_SOURCE_KINDS.join(', ')}`, { field: `${field}.kind` });
    const r = checkOptionalString(ref, `${field}.ref`, 2000);
    if (r === null) throw invalidInput(`${field}.ref must be a non-empty string`, { field: `${field}.ref` });
    if (kind === 'task' || kind === 'artifact') return { kind, ref: checkUuid(r, `${field}.ref`) };
    if (kind === 'uri' && !URL.canParse(r))
      throw badField(`${field}.ref`, 'an absolute URI', r, `${field}.ref must be an absolute URI (got ${JSON.stringify(r)})`);
    return { kind: kind as FactSourceInput['kind'], ref: r };
  });
}

interface ClaimColumns {
  cols: string[];
  values: unknown[];
}

/** The claim fields given, validated, as column/value pairs. */
function claimColumns(c: FactClaim): ClaimColumns {
  const out: ClaimColumns = { cols: [], values: [] };
  const put = (col: string, v: unknown) => {
    out.cols.push(col);
    out.values.push(v);
  };
  if (c.subject !== undefined) put('subject', checkOptionalString(c.subject, 'subject'));
  if (c.predicate !== undefined) put('predicate', checkOptionalString(c.predicate, 'predicate'));
  if (c.object !== undefined) put('object', checkOptionalString(c.object, 'object', 100_000));
  if (c.confidence !== undefined) put('confidence', checkConfidence(c.confidence));
  if (c.valid_from !== undefined) put('valid_from', checkTimestamp(c.valid_from, 'valid_from'));
  if (c.valid_to !== undefined) put('valid_to', c.valid_to === null ? null : checkTimestamp(c.valid_to, 'valid_to'));
  return out;
}

const CAST: Record<string, string> = { tags: '::text[]', meta_data: '::jsonb', confidence: '::float8', valid_from: '::timestamptz', valid_to: '::timestamptz' };

async function insertSources(q: Queryable, factId: string, sources: FactSourceInput[]): Promise<void> {
  if (sources.length === 0) return;
  await q.query(
    `INSERT INTO fact_sources (fact_id, kind, ref) SELECT $1::uuid, s.kind, s.ref FROM unnest($2::text[], $3::text[]) AS s(kind, ref)
     ON CONFLICT (fact_id, kind, ref) DO NOTHING`,
    [factId, sources.map((s) => s.kind), sources.map((s) => s.ref)],
  );
}

/** Write fact__derives_from__fact edges from `factId` to each of `parents` (which must exist). */
export async function insertDerivedFrom(q: Queryable, factId: string, parents: string[]): Promise<void> {
  if (parents.length === 0) return;
  if (parents.includes(factId)) throw invalidInput('a fact cannot derive from itself', { field: 'derivedFrom' });
  const found = await q.query<{ id: string }>('SELECT id::text AS id FROM facts WHERE id = ANY($1::uuid[]) FOR KEY SHARE', [parents]);
  const have = new Set(found.rows.map((r) => r.id));
  const missing = parents.filter((p) => !have.has(p));
  if (missing.length > 0) throw notFound(`derivedFrom names facts that do not exist: ${missing.join(', ')}`, { field: 'derivedFrom', ids: missing });
  await q.query(
    `INSERT INTO fact_derives_from_fact (src_fact_id, dst_fact_id) SELECT $1::uuid, p FROM unnest($2::uuid[]) AS p ORDER BY p
     ON CONFLICT (src_fact_id, dst_fact_id) DO NOTHING`,
    [factId, parents],
  );
}

/**
 * Take the advisory locks of the subject/predicate groups a change of fact `id` touches
 * before locking its row: the conflict trigger takes the group lock and then updates other
 * rows of the group, so taking the row lock first could deadlock with another writer.
 */
async function lockGroupsOf(q: Queryable, id: string, next?: { subject: string | null | undefined; predicate: string | null | undefined }): Promise<void> {
  const cur = await q.query<{ subject: string | null; predicate: string | null }>('SELECT subject, predicate FROM facts WHERE id = $1', [id]);
  const groups = new Set<string>();
  const row = cur.rows[0];
  if (row?.subject != null && row.predicate != null) groups.add(JSON.stringify([row.subject, row.predicate]));
  const s = next?.subject === undefined ? row?.subject : next.subject;
  const p = next?.predicate === undefined ? row?.predicate : next.predicate;
  if (s != null && p != null) groups.add(JSON.stringify([s, p]));
  for (const g of [...groups].sort()) await q.query('SELECT facts_lock_group($1, $2)', JSON.parse(g) as string[]);
}

function checkPair(subject: unknown, predicate: unknown): void {
  if ((subject === null || subject === undefined) !== (predicate === null || predicate === undefined))
    throw badField(
      subject === undefined || subject === null ? 'subject' : 'predicate',
      'subject and predicate together, or neither',
      subject === undefined || subject === null ? subject : predicate,
      'subject and predicate go together: give both or neither',
    );
}

export async function addFact(db: Queryable, fact: NewFact): Promise<Fact> {
  checkInput(FactInputSchema, fact, ['valid_from', 'valid_to']);
  const text = checkText(fact.text);
  const tags = fact.tags === undefined ? [] : checkTags(fact.tags);
  const meta = fact.meta_data === undefined ? {} : checkObject(fact.meta_data, 'meta_data');
  const claim = claimColumns(fact);
  checkPair(fact.subject, fact.predicate);
  const sources = fact.sources === undefined ? [] : checkSources(fact.sources);
  const parents = fact.derivedFrom === undefined ? [] : checkUuidList(fact.derivedFrom, 'derivedFrom');
  const cols = ['text', 'tags', 'meta_data', ...claim.cols];
  const values = [text, tags, JSON.stringify(meta), ...claim.values];
  const sql = `INSERT INTO facts AS f (${cols.join(', ')}) VALUES (${cols.map((c, i) => `$${i + 1}${CAST[c] ?? ''}`).join(', ')}) RETURNING ${FACT_COLUMNS}`;
  const needsTx = sources.length > 0 || parents.length > 0 || fact.subject != null;
  const write = async (q: Queryable): Promise<Fact> => {
    const row = toFact((await q.query<FactRow>(sql, values)).rows[0] as FactRow);
    await insertSources(q, row.id, sources);
    await insertDerivedFrom(q, row.id, parents);
    // The conflict trigger may have marked it superseded after RETURNING was computed.
    return row.subject === null ? row : toFact((await q.query<FactRow>(`SELECT ${FACT_COLUMNS} FROM facts f WHERE f.id = $1`, [row.id])).rows[0] as FactRow);
  };
  return needsTx ? inTransaction(db, write) : write(db);
}

/**
 * The full id of the fact `idOrPrefix` names. A prefix (at least 4 hex digits, dashes
 * optional) is turned into a uuid range so the primary key answers it without a scan.
 */
export async function resolveFactId(db: Queryable, idOrPrefix: string): Promise<string> {
  if (typeof idOrPrefix !== 'string') throw invalidInput('fact id must be a string');
  const s = idOrPrefix.trim().toLowerCase();
  if (isUuid(s)) return s;
  const hex = s.replace(/-/g, '');
  if (!/^[0-9a-f]{4,31}$/.test(hex) || !/^[0-9a-f]/.test(s))
    throw invalidInput(`'${idOrPrefix}' is not a fact id or an id prefix of at least 4 hex digits`, { field: 'id' });
  const asUuid = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  const lo = asUuid(hex.padEnd(32, '0'));
  const hi = asUuid(hex.padEnd(32, 'f'));
  const res = await db.query<{ id: string }>('SELECT id FROM facts WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY id LIMIT 2', [lo, hi]);
  if (res.rows.length === 0) throw notFound(`no fact with id prefix '${idOrPrefix}'`, { id: idOrPrefix });
  if (res.rows.length > 1)
    throw new SeedCoreError('SEEDCORE_AMBIGUOUS_ID', `id prefix '${idOrPrefix}' matches more than one fact; give more characters`, {
      details: { id: idOrPrefix },
    });
  return (res.rows[0] as { id: string }).id;
}

export async function getFact(db: Queryable, idOrPrefix: string): Promise<Fact> {
  const id = await resolveFactId(db, idOrPrefix);
  const res = await db.query<FactRow>(`SELECT ${FACT_COLUMNS} FROM facts f WHERE f.id = $1`, [id]);
  if (res.rows.length === 0) throw notFound(`fact ${id} does not exist`, { id });
  return toFact(res.rows[0] as FactRow);
}

/**
 * Replace the given fields of one fact. The previous version goes to fact_versions and
 * updated_at is set, both by the table's triggers, so psql updates keep history too.
 */
export async function updateFact(db: Queryable, idOrPrefix: string, patch: FactPatch): Promise<Fact> {
  checkInput(FactPatchSchema, patch, ['valid_from', 'valid_to']);
  const cols: string[] = [];
  const values: unknown[] = [];
  if (patch.text !== undefined) {
    cols.push('text');
    values.push(checkText(patch.text));
  }
  if (patch.tags !== undefined) {
    cols.push('tags');
    values.push(checkTags(patch.tags));
  }
  if (patch.meta_data !== undefined) {
    cols.push('meta_data');
    values.push(JSON.stringify(checkObject(patch.meta_data, 'meta_data')));
  }
  const claim = claimColumns(patch);
  cols.push(...claim.cols);
  values.push(...claim.values);
  if (patch.invalid_reason !== undefined) {
    cols.push('invalid_reason');
    values.push(checkOptionalString(patch.invalid_reason, 'invalid_reason', 10_000));
  }
  if (cols.length === 0)
    throw invalidInput('nothing to update: give text, tags, meta_data, subject, predicate, object, confidence, valid_from or valid_to', {
      path: '',
      expected: `at least one of the fields ${Object.keys(FactPatchSchema.properties).join(', ')}`,
      got: 'none',
    });
  const id = await resolveFactId(db, idOrPrefix);
  const sets = cols.map((c, i) => `${c} = $${i + 1}${CAST[c] ?? ''}`);
  values.push(id);
  return inTransaction(db, async (q) => {
    await lockGroupsOf(q, id, { subject: patch.subject, predicate: patch.predicate });
    const cur = await q.query<{ subject: string | null; predicate: string | null }>('SELECT subject, predicate FROM facts WHERE id = $1 FOR UPDATE', [id]);
    if (cur.rows.length === 0) throw notFound(`fact ${id} does not exist`, { id });
    const was = cur.rows[0] as { subject: string | null; predicate: string | null };
    checkPair(patch.subject !== undefined ? patch.subject : was.subject, patch.predicate !== undefined ? patch.predicate : was.predicate);
    await q.query(`UPDATE facts AS f SET ${sets.join(', ')} WHERE f.id = $${values.length}`, values);
    return toFact((await q.query<FactRow>(`SELECT ${FACT_COLUMNS} FROM facts f WHERE f.id = $1`, [id])).rows[0] as FactRow);
  });
}

/** Mark a fact as no longer valid from `at` (default now), with a reason; it stays readable. */
export async function invalidateFact(db: Queryable, idOrPrefix: string, options: { reason: string; at?: string | Date }): Promise<Fact> {
  checkInput(FactInvalidationSchema, options, ['at']);
  const reason = checkOptionalString(options.reason, 'reason', 10_000);
  if (reason === null) throw invalidInput('reason must be a non-empty string', { field: 'reason' });
  const id = await resolveFactId(db, idOrPrefix);
  const at = options.at === undefined ? null : checkTimestamp(options.at, 'at');
  return inTransaction(db, async (q) => {
    await lockGroupsOf(q, id);
    const cur = await q.query<{ valid_to: Date | null; valid_from: Date }>(
      'SELECT valid_to, coalesce(valid_from, created_at) AS valid_from FROM facts WHERE id = $1 FOR UPDATE',
      [id],
    );
    const row = cur.rows[0];
    if (!row) throw notFound(`fact ${id} does not exist`, { id });
    if (row.valid_to !== null)
      throw new SeedCoreError('SEEDCORE_CONFLICT', `fact ${id} was already invalidated at ${row.valid_to.toISOString()}`, { details: { id } });
    if (at !== null && new Date(at) < row.valid_from)
      throw badField(
        'at',
        `a time at or after the fact's valid_from (${row.valid_from.toISOString()})`,
        at,
        `at must not be before the fact's valid_from (${row.valid_from.toISOString()})`,
      );
    // Without `at`: from now, or from valid_from for a fact that has not started to hold yet.
    await q.query(
      'UPDATE facts SET valid_to = coalesce($2::timestamptz, greatest(now(), coalesce(valid_from, created_at))), invalid_reason = $3 WHERE id = $1',
      [id, at, reason],
    );
    return toFact((await q.query<FactRow>(`SELECT ${FACT_COLUMNS} FROM facts f WHERE f.id = $1`, [id])).rows[0] as FactRow);
  });
}

/** Earlier versions of a fact, oldest first (the current version is getFact). */
export async function factVersions(db: Queryable, idOrPrefix: string): Promise<FactVersion[]> {
  const id = await resolveFactId(db, idOrPrefix);
  const r = await db.query<Omit<FactVersion, 'confidence'> & { confidence: number | string; tags: string[] | null; meta_data: Record<string, unknown> | null }>(
    `SELECT fact_id::text AS fact_id, version, text, tags, meta_data, subject, predicate, object, confidence, valid_from, valid_to, invalid_reason, recorded_at, replaced_at
       FROM fact_versions WHERE fact_id = $1 ORDER BY version`,
    [id],
  );
  return r.rows.map((v) => ({ ...v, tags: v.tags ?? [], meta_data: v.meta_data ?? {}, confidence: Number(v.confidence), version: Number(v.version) }));
}

/** Delete one fact (its edges, sources, versions and graph node mapping go with it). Returns the deleted fact. */
export async function deleteFact(db: Queryable, idOrPrefix: string): Promise<Fact> {
  const id = await resolveFactId(db, idOrPrefix);
  const res = await db.query<FactRow>(`DELETE FROM facts AS f WHERE f.id = $1 RETURNING ${FACT_COLUMNS}`, [id]);
  if (res.rows.length === 0) throw notFound(`fact ${id} does not exist`, { id });
  return toFact(res.rows[0] as FactRow);
}

/** Facts with these ids, in the order asked, skipping ids that do not exist. */
export async function getFactsByIds(db: Queryable, ids: string[]): Promise<Fact[]> {
  if (ids.length === 0) return [];
  const res = await db.query<FactRow & { ord: number }>(
    `SELECT ${FACT_COLUMNS}, u.ord FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord) JOIN facts f ON f.id = u.id ORDER BY u.ord`,
    [ids],
  );
  return res.rows.map(toFact);
}
