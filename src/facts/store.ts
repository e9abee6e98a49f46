/** Create, read, update and delete facts; ids may be given in full or as a unique prefix. */
import type { Queryable } from '../db/types.js';
import { SeedCoreError, invalidInput, notFound } from '../errors.js';
import type { Fact, FactPatch, NewFact } from './types.js';
import { checkObject, checkTags, checkText, isUuid } from './validate.js';

export const FACT_COLUMNS = 'f.id, f.text, f.tags, f.meta_data, f.created_at, f.updated_at';

interface FactRow {
  id: string;
  text: string;
  tags: string[] | null;
  meta_data: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

/** Normalise a row: the columns are nullable in the original schema, callers get [] and {}. */
export function toFact(r: FactRow): Fact {
  return { id: r.id, text: r.text, tags: r.tags ?? [], meta_data: r.meta_data ?? {}, created_at: r.created_at, updated_at: r.updated_at };
}

export async function addFact(db: Queryable, fact: NewFact): Promise<Fact> {
  if (typeof fact !== 'object' || fact === null) throw invalidInput('a fact must be an object with text, tags and meta_data');
  const text = checkText(fact.text);
  const tags = fact.tags === undefined ? [] : checkTags(fact.tags);
  const meta = fact.meta_data === undefined ? {} : checkObject(fact.meta_data, 'meta_data');
  const res = await db.query<FactRow>(`INSERT INTO facts AS f (text, tags, meta_data) VALUES ($1, $2::text[], $3::jsonb) RETURNING ${FACT_COLUMNS}`, [
    text,
    tags,
    JSON.stringify(meta),
  ]);
  return toFact(res.rows[0] as FactRow);
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
  if (!/^[0-9a-f]{4,31}$/.test(hex)) throw invalidInput(`'${idOrPrefix}' is not a fact id or an id prefix of at least 4 hex digits`, { field: 'id' });
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

/** Replace the given fields of one fact (updated_at is set by the table's trigger). */
export async function updateFact(db: Queryable, idOrPrefix: string, patch: FactPatch): Promise<Fact> {
  if (typeof patch !== 'object' || patch === null) throw invalidInput('an update must be an object');
  const sets: string[] = [];
  const params: unknown[] = [];
  if (patch.text !== undefined) {
    params.push(checkText(patch.text));
    sets.push(`text = $${params.length}`);
  }
  if (patch.tags !== undefined) {
    params.push(checkTags(patch.tags));
    sets.push(`tags = $${params.length}::text[]`);
  }
  if (patch.meta_data !== undefined) {
    params.push(JSON.stringify(checkObject(patch.meta_data, 'meta_data')));
    sets.push(`meta_data = $${params.length}::jsonb`);
  }
  if (sets.length === 0) throw invalidInput('nothing to update: give text, tags or meta_data');
  const id = await resolveFactId(db, idOrPrefix);
  params.push(id);
  const res = await db.query<FactRow>(`UPDATE facts AS f SET ${sets.join(', ')} WHERE f.id = $${params.length} RETURNING ${FACT_COLUMNS}`, params);
  if (res.rows.length === 0) throw notFound(`fact ${id} does not exist`, { id });
  return toFact(res.rows[0] as FactRow);
}

/** Delete one fact (its task edges and graph node mapping go with it). Returns the deleted fact. */
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
