/**
 * Checking untrusted input against a TypeBox schema, shared by the library (task submission)
 * and the HTTP routes, so a bad value gets the same error from every face: a
 * SEEDCORE_INVALID_INPUT naming the field (`path`), what was `expected` and what it `got`.
 *
 * Before any schema check, `scanInput` walks the value once, iteratively, and rejects what
 * PostgreSQL or a recursive walker cannot take: NUL characters (text and jsonb refuse them)
 * and nesting deeper than a limit (TypeBox's Clone/Default/Check recurse and would overflow the
 * stack on a few thousand levels).
 */
import { FormatRegistry, Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { invalidInput } from './errors.js';

/** Deepest nesting of arrays/objects accepted in any input (params, metadata, bodies). */
export const MAX_INPUT_DEPTH = 64;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A calendar date, optionally a time with an explicit offset (a zone-less time would be read
// in the server's local zone). Years 0001-9999: inside both JavaScript's and PostgreSQL's range.
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?))?$/i;

/** True for a strict ISO 8601 timestamp that exists on the calendar (no 2026-02-30, no year 0). */
export function isTimestamp(s: string): boolean {
  const m = TIMESTAMP_RE.exec(s);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  if (day > new Date(Date.UTC(2000, month, 0)).getUTCDate() || (month === 2 && day === 29 && !isLeap(year))) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) return false;
  const zone = m[7];
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    if (Number(digits.slice(0, 2)) > 15 || Number(digits.slice(2) || 0) > 59) return false;
  }
  return !Number.isNaN(new Date(s).getTime());
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isTimestamp);
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (s) => UUID_RE.test(s));

/** A short, safe rendering of a value for an error message. */
export function got(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') {
    if (v.length > 60) return `a string of ${v.length} characters`;
    return JSON.stringify(v);
  }
  return `${typeof v} ${String(v)}`;
}

/**
 * Reject NUL characters (in strings and keys) and nesting deeper than `maxDepth`, without
 * recursion. `where` prefixes the reported path (e.g. "body").
 */
export function scanInput(value: unknown, where = '', maxDepth = MAX_INPUT_DEPTH): void {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop() as { v: unknown; path: string; depth: number };
    if (typeof v === 'string') {
      if (v.includes('\u0000')) throw nulError(where, path);
      continue;
    }
    if (typeof v !== 'object' || v === null || v instanceof Date) continue;
    if (depth >= maxDepth) {
      throw invalidInput(`${label(where, path)}: nested more than ${maxDepth} levels deep`, {
        path: fieldPath(where, path),
        expected: `at most ${maxDepth} levels`,
        got: 'deeper',
      });
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}/${i}`, depth: depth + 1 });
      continue;
    }
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (k.includes('\u0000')) throw nulError(where, `${path}/${k.replaceAll('\u0000', '\\u0000')}`);
      stack.push({ v: child, path: `${path}/${k}`, depth: depth + 1 });
    }
  }
}

function nulError(where: string, path: string) {
  return invalidInput(`${label(where, path)}: text must not contain NUL (\\u0000) characters`, {
    path: fieldPath(where, path),
    expected: 'text without NUL characters',
    got: 'a NUL character',
  });
}

/** "/params/a/0" → "params.a.0" (prefixed by `where`), the dotted path error messages show. */
export function fieldPath(where: string, pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  // A path 64 levels deep is unreadable: its start and its depth say enough.
  const dotted = parts.length > 12 ? `${parts.slice(0, 8).join('.')}.….(${parts.length} levels)` : parts.join('.');
  const path = [where, dotted].filter(Boolean).join('.');
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

function label(where: string, pointer: string): string {
  return fieldPath(where, pointer) || where || 'input';
}

/** What a schema accepts, in words: "string of 1-200 characters or null", "one of a, b". */
export function expected(schema: TSchema): string {
  const s = schema as TSchema & Record<string, unknown>;
  if (Array.isArray(s.anyOf)) {
    const options = s.anyOf as TSchema[];
    if (options.every((o) => (o as { const?: unknown }).const !== undefined))
      return `one of ${options.map((o) => String((o as { const?: unknown }).const)).join(', ')}`;
    return options.map(expected).join(' or ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  switch (s.type) {
    case 'string': {
      if (s.format === 'date-time') return 'an ISO 8601 timestamp (e.g. 2026-01-31T12:00:00Z)';
      if (s.format === 'uuid') return 'a UUID';
      const min = s.minLength as number | undefined;
      const max = s.maxLength as number | undefined;
      const len = min && max ? ` of ${min}-${max} characters` : max ? ` of at most ${max} characters` : min ? ` of at least ${min} characters` : '';
      const noun = s.pattern === '\\S' ? 'a non-blank string' : s.pattern ? `a string matching ${String(s.pattern)}` : 'a string';
      return `${noun}${len}`;
    }
    case 'integer':
    case 'number': {
      const noun = s.type === 'integer' ? 'an integer' : 'a number';
      const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? `> ${String(s.exclusiveMinimum)}` : undefined);
      const hi = s.maximum;
      if (lo !== undefined && hi !== undefined) return `${noun} between ${String(lo)} and ${String(hi)}`;
      if (lo !== undefined) return `${noun} ${typeof lo === 'string' ? lo : `≥ ${lo}`}`;
      if (hi !== undefined) return `${noun} ≤ ${String(hi)}`;
      return noun;
    }
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array':
      return s.maxItems !== undefined ? `an array of at most ${String(s.maxItems)} items` : 'an array';
    case 'object':
      return 'an object';
    default:
      return s[Kind] === 'Unknown' || s[Kind] === 'Any' ? 'any JSON value' : 'a valid value';
  }
}

export interface FieldError {
  path: string;
  expected: string;
  got: string;
  message: string;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function accepts(schema: TSchema, v: unknown): boolean {
  const t = (schema as { type?: unknown }).type;
  const kind = jsonType(v);
  if (t === undefined) return (schema as { const?: unknown }).const === v;
  if (t === 'number' && kind === 'integer') return true;
  return t === kind;
}

/** Errors for one value, descending into the one union member of the value's own JSON type. */
function collect(errors: Iterable<ValueError>, base: string, out: FieldError[], where: string): void {
  const seen = new Set<string>();
  for (const e of errors) {
    if (out.length >= 5) return;
    const pointer = base + e.path;
    if (seen.has(pointer)) continue;
    seen.add(pointer);
    const path = fieldPath(where, pointer);
    if (e.type === ValueErrorType.ObjectAdditionalProperties) {
      const allowed = Object.keys((e.schema as { properties?: object }).properties ?? {});
      out.push({
        path,
        expected: allowed.length ? `one of the fields ${allowed.join(', ')}` : 'no fields',
        got: 'an unknown field',
        message: `unknown field '${path}'`,
      });
      continue;
    }
    if (e.type === ValueErrorType.ObjectRequiredProperty) {
      out.push({ path, expected: expected(e.schema), got: 'nothing', message: `${path}: required (${expected(e.schema)}), got nothing` });
      continue;
    }
    if (e.type === ValueErrorType.Union) {
      const members = ((e.schema as { anyOf?: TSchema[] }).anyOf ?? []).filter((m) => accepts(m, e.value));
      if (members.length === 1) {
        const member = members[0] as TSchema;
        const before = out.length;
        collect(Value.Errors(member, e.value), pointer, out, where);
        if (out.length > before) continue;
      }
    }
    const exp = expected(e.schema);
    const g = got(e.value);
    out.push({ path, expected: exp, got: g, message: `${path || where || 'input'}: expected ${exp}, got ${g}` });
  }
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor(schema: TSchema): TypeCheck<TSchema> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

/** The field errors of `value` against `schema` (empty when it conforms); at most 5. */
export function fieldErrors(schema: TSchema, value: unknown, where = ''): FieldError[] {
  const checker = checkerFor(schema);
  if (checker.Check(value)) return [];
  const out: FieldError[] = [];
  collect(checker.Errors(value), '', out, where);
  if (out.length === 0)
    out.push({ path: where, expected: expected(schema), got: got(value), message: `${where || 'input'}: expected ${expected(schema)}, got ${got(value)}` });
  return out;
}

/**
 * Throw SEEDCORE_INVALID_INPUT unless `value` conforms: message lists the problems; details
 * carry the first one's `path`, `expected` and `got`, and all of them as `errors`.
 */
export function assertSchema(schema: TSchema, value: unknown, where = ''): void {
  scanInput(value, where);
  const errors = fieldErrors(schema, value, where);
  if (errors.length === 0) return;
  const first = errors[0] as FieldError;
  throw invalidInput(errors.map((e) => e.message).join('; '), { path: first.path, expected: first.expected, got: first.got, errors });
}
