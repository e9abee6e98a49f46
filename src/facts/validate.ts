import { invalidInput } from '../errors.js';
import { assertSchema, got } from '../schema-check.js';
import { FactConflictQuerySchema, FactSearchQuerySchema } from './schemas.js';
import type { FactConflictListOptions, FactSearchOptions } from './types.js';

/** SEEDCORE_INVALID_INPUT naming the field (`path`), what was `expected` and what it `got`, as the schema checks do. */
export function badField(path: string, expected: string, value: unknown, message = `${path}: expected ${expected}, got ${got(value)}`) {
  return invalidInput(message, { field: path, path, expected, got: got(value) });
}

const ISO_EXPECTED = 'an ISO 8601 timestamp (e.g. 2026-01-31T12:00:00Z)';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_TEXT_LENGTH = 100_000;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function checkText(text: unknown): string {
  if (typeof text !== 'string' || text.trim() === '') throw invalidInput('fact text must be a non-empty string', { field: 'text' });
  if (text.length > MAX_TEXT_LENGTH) throw invalidInput(`fact text is longer than ${MAX_TEXT_LENGTH} characters`, { field: 'text' });
  return text;
}

export function checkTags(tags: unknown, field = 'tags'): string[] {
  if (!Array.isArray(tags)) throw invalidInput(`${field} must be an array of strings`, { field });
  const out: string[] = [];
  for (const t of tags) {
    if (typeof t !== 'string' || t.trim() === '') throw invalidInput(`${field} must contain non-empty strings`, { field });
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

export function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badField(field, 'an object', value, `${field} must be a JSON object`);
  return value as Record<string, unknown>;
}

export function checkUuid(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || !isUuid(id)) throw badField(field, 'a UUID', id, `${field} must be a uuid (got ${JSON.stringify(id)})`);
  return id.toLowerCase();
}

export const MAX_NAME_LENGTH = 1000;

/** A subject, predicate or object: a non-empty string, or null to clear it. */
export function checkOptionalString(v: unknown, field: string, max = MAX_NAME_LENGTH): string | null {
  if (v === null) return null;
  if (typeof v !== 'string' || v.trim() === '') throw invalidInput(`${field} must be a non-empty string or null`, { field });
  if (v.length > max) throw invalidInput(`${field} is longer than ${max} characters`, { field });
  if (v.includes('\u0000')) throw invalidInput(`${field} must not contain NUL characters`, { field });
  return v;
}

export function checkConfidence(v: unknown, field = 'confidence'): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
    throw badField(field, 'a number between 0 and 1', v, `${field} must be a number between 0 and 1 (got ${JSON.stringify(v)})`);
  return v;
}

// Strict ISO 8601: a date, optionally a time with seconds, fraction and zone (Z or ±hh:mm).
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** A timestamp as ISO 8601 text or a Date, within years 1..9999; returned as an ISO string. */
export function checkTimestamp(v: unknown, field: string): string {
  let d: Date;
  if (v instanceof Date) d = v;
  else if (typeof v === 'string' && ISO_RE.test(v.trim())) {
    const m = ISO_RE.exec(v.trim()) as RegExpExecArray;
    const [month, day] = [Number(m[2]), Number(m[3])];
    if (month < 1 || month > 12 || day < 1 || new Date(Date.UTC(Number(m[1]), month - 1, day)).getUTCDate() !== day)
      throw badField(field, ISO_EXPECTED, v, `${field} is not a valid date (got ${JSON.stringify(v)})`);
    // JavaScript wants ±hh:mm; PostgreSQL also writes ±hh and ±hhmm.
    let iso = v.trim().replace(' ', 'T');
    if (m[4] !== undefined) iso = iso.replace(/([+-]\d{2})$/, '$1:00').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    d = new Date(iso);
  } else throw badField(field, ISO_EXPECTED, v instanceof Date ? 'Invalid Date' : v);
  const year = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || year < 1 || year > 9999)
    throw badField(field, `${ISO_EXPECTED} in years 0001-9999`, v instanceof Date ? 'Invalid Date' : v, `${field} is out of range (got ${JSON.stringify(v)})`);
  return d.toISOString();
}

export function checkUuidList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw invalidInput(`${field} must be an array of fact ids`, { field });
  if (v.length > 1000) throw invalidInput(`${field} may name at most 1000 facts`, { field });
  return [...new Set(v.map((x) => checkUuid(x, field)))];
}

/** The fields of `o` that are not undefined (a schema treats a present key as given). */
function given<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Check search options against FactSearchQuerySchema, the schema of GET /api/facts, so the
 * library, HTTP and the CLI name a bad option alike; `meta` given as JSON text is parsed.
 * maxCandidates, a tuning option of the library alone, is checked by searchFacts.
 */
export function checkSearchOptions(options: FactSearchOptions = {}): FactSearchOptions {
  const { maxCandidates: _max, ...rest } = given(options);
  const wire: Record<string, unknown> = { ...rest };
  if (rest.asOf instanceof Date) wire.asOf = Number.isNaN(rest.asOf.getTime()) ? 'Invalid Date' : rest.asOf.toISOString();
  assertSchema(FactSearchQuerySchema, wire);
  if (typeof rest.meta !== 'string') return options;
  let meta: unknown;
  try {
    meta = JSON.parse(rest.meta);
  } catch {
    throw badField('meta', 'a JSON object, e.g. {"source":"docs"}', rest.meta, `meta: expected a JSON object, e.g. {"source":"docs"}, got ${got(rest.meta)}`);
  }
  return { ...options, meta: checkObject(meta, 'meta') };
}

/** Check conflict listing options against FactConflictQuerySchema, the schema of GET /api/facts/conflicts. */
export function checkConflictOptions(options: FactConflictListOptions = {}): FactConflictListOptions {
  assertSchema(FactConflictQuerySchema, given(options));
  return options;
}
