/**
 * Fuzzing every route of /openapi.json with bad input: wrong types, missing and extra fields,
 * huge and NUL strings, deep nesting, invalid ids and cursors, SQL and tsquery metacharacters.
 * No answer may be a 5xx, every error must be in the one error shape, and a rejected request
 * must write nothing (row counts of every table compared around each one). The cases are
 * sampled with a fixed seed, so a failure reproduces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadDemoData } from '../src/demo/load.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: Json[];
  format?: string;
  minimum?: number;
  minItems?: number;
  pattern?: string;
  $ref?: string;
  nullable?: boolean;
}
interface Operation {
  parameters?: Array<{ in: string; name: string; schema?: JsonSchema }>;
  requestBody?: { content?: Record<string, { schema: JsonSchema }> };
}
interface Case {
  method: string;
  url: string;
  body?: string;
  why: string;
}

/** mulberry32: a small seeded PRNG, so the sample is the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HUGE = 'x'.repeat(200_000);
const NUL = 'a\u0000b';
const SQL = "x'); DROP TABLE tasks; --";
const TSQUERY = "!(a & | b) :* <-> 'c";
const deepJson = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObject = (n: number): Json => {
  let v: Json = 1;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};

const BAD_STRINGS: Json[] = ['', HUGE, NUL, SQL, TSQUERY, '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', 'foo 1', '\u{1F600}'.repeat(300)];
const BAD_VALUES: Json[] = [null, 42, -1, 1e308, true, [], {}, ['a'], deepObject(200), ...BAD_STRINGS];
const BAD_IDS = [
  '----',
  'zzzz',
  '%00',
  '%ff',
  'a'.repeat(300),
  encodeURIComponent(SQL),
  encodeURIComponent(TSQUERY),
  '0',
  '-1',
  '99999999999999999999',
  '1e5',
  'ffffffff-ffff-ffff-ffff-fffffffffff',
];
const FORGED_CURSORS = [
  'AAAA',
  '%00',
  Buffer.from('0000-01-01T00:00:00.000000Z|00000000-0000-0000-0000-000000000000').toString('base64url'),
  Buffer.from('+275760-09-13T00:00:00Z|00000000-0000-0000-0000-000000000000').toString('base64url'),
  Buffer.from('{"t":"x"}').toString('base64url'),
  '!!!!',
];

function resolve(doc: { components?: { schemas?: Record<string, JsonSchema> } }, s: JsonSchema | undefined): JsonSchema {
  if (!s) return {};
  if (s.$ref) return resolve(doc, doc.components?.schemas?.[s.$ref.split('/').pop() as string]);
  return s;
}

/** A plausible valid value for a schema (the base the mutations start from). */
function sample(doc: object, raw: JsonSchema | undefined, depth = 0): Json {
  const s = resolve(doc, raw);
  const alt = s.anyOf ?? s.oneOf;
  if (alt && alt.length > 0) return sample(doc, alt[0], depth);
  if (s.enum && s.enum.length > 0) return s.enum[0] as Json;
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, Json> = {};
      for (const k of s.required ?? []) out[k] = sample(doc, s.properties?.[k], depth + 1);
      return out;
    }
    case 'array':
      return depth > 3 ? [] : Array.from({ length: s.minItems ?? 0 }, () => sample(doc, s.items, depth + 1));
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      if (s.format === 'date-time') return '2030-01-01T00:00:00Z';
      if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      if (s.pattern?.includes('[0-9]')) return '1';
      return 'fuzz';
    default:
      return 'fuzz';
  }
}

function bodyCases(doc: object, schema: JsonSchema | undefined): Array<{ body: string; why: string }> {
  const s = resolve(doc, (schema && (schema.anyOf ?? schema.oneOf)?.[0]) ?? schema);
  const base = sample(doc, s);
  const out: Array<{ body: string; why: string }> = [
    { body: 'null', why: 'null body' },
    { body: '"text"', why: 'string body' },
    { body: '[]', why: 'empty array' },
    { body: deepJson(5000), why: 'nested 5000 deep' },
    { body: JSON.stringify({ ...(base as object), zzz_extra: 1 }), why: 'extra field' },
    { body: '{"a": ', why: 'malformed JSON' },
  ];
  if (base && typeof base === 'object' && !Array.isArray(base)) {
    for (const k of s.required ?? []) {
      const copy = { ...base } as Record<string, Json>;
      delete copy[k];
      out.push({ body: JSON.stringify(copy), why: `missing ${k}` });
    }
    for (const k of Object.keys(s.properties ?? {})) {
      for (const v of BAD_VALUES) out.push({ body: JSON.stringify({ ...base, [k]: v }), why: `${k}=${JSON.stringify(v)?.slice(0, 30)}` });
      out.push({ body: JSON.stringify({ ...base, [k]: { [NUL]: 1 } }), why: `${k} with a NUL key` });
    }
  }
  return out;
}

function cases(doc: { paths: Record<string, Record<string, Operation>> }, rand: () => number, perOperation: number): Case[] {
  const all: Case[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/')) continue;
    for (const [method, op] of Object.entries(ops)) {
      if (path === '/api/events' && method === 'get') continue; // a stream; HEAD is fuzzed elsewhere
      const params = op.parameters ?? [];
      const pathParams = params.filter((p) => p.in === 'path');
      const query = params.filter((p) => p.in === 'query');
      const fill = (override?: [string, string]) =>
        path.replace(/\{(\w+)\}/g, (_m, name: string) =>
          override && override[0] === name ? override[1] : encodeURIComponent(String(sample(doc, pathParams.find((p) => p.name === name)?.schema))),
        );
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      const validBody = bodySchema ? JSON.stringify(sample(doc, (bodySchema.anyOf ?? bodySchema.oneOf)?.[0] ?? bodySchema)) : undefined;
      const mine: Case[] = [];
      for (const p of pathParams)
        for (const id of BAD_IDS)
          mine.push({ method, url: fill([p.name, id]), ...(validBody ? { body: validBody } : {}), why: `${p.name}=${id.slice(0, 20)}` });
      for (const q of query) {
        const values = [...BAD_STRINGS.map((v) => encodeURIComponent(String(v))), 'abc', '-1', '1e309', '%00', ...(q.name === 'cursor' ? FORGED_CURSORS : [])];
        for (const v of values)
          mine.push({ method, url: `${fill()}?${q.name}=${v}`, ...(validBody ? { body: validBody } : {}), why: `?${q.name}=${v.slice(0, 20)}` });
      }
      mine.push({ method, url: `${fill()}?zzz_unknown=1`, ...(validBody ? { body: validBody } : {}), why: 'unknown query parameter' });
      if (bodySchema) for (const b of bodyCases(doc, bodySchema)) mine.push({ method, url: fill(), body: b.body, why: b.why });
      // A fixed-seed sample per operation keeps the run short and the same every time.
      for (let i = mine.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [mine[i], mine[j]] = [mine[j] as Case, mine[i] as Case];
      }
      all.push(...mine.slice(0, perOperation));
    }
  }
  return all;
}

/** `{"error": {"code": "SEEDCORE_…", "message", "details"?}}` and nothing else. */
function inErrorShape(text: string): boolean {
  let e: { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined;
  try {
    e = JSON.parse(text);
  } catch {
    return false;
  }
  return (
    e?.error !== undefined &&
    typeof e.error.code === 'string' &&
    /^SEEDCORE_[A-Z_]+$/.test(e.error.code) &&
    typeof e.error.message === 'string' &&
    (e.error.details === undefined || (typeof e.error.details === 'object' && e.error.details !== null))
  );
}

async function tableCounts(s: TestServer): Promise<Record<string, number>> {
  const { rows } = await s.core.db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
  );
  const names = rows.map((r) => r.table_name);
  const res = await s.core.db.query<Record<string, number>>(`SELECT ${names.map((n, i) => `(SELECT count(*)::int FROM "${n}") AS c${i}`).join(', ')}`);
  const row = res.rows[0] as Record<string, number>;
  return Object.fromEntries(names.map((n, i) => [n, row[`c${i}`] as number]));
}

for (const kind of BACKENDS) {
  describe(`HTTP fuzz from /openapi.json (${kind})`, () => {
    let s: TestServer;
    before(async () => {
      s = await testServer(kind);
      await loadDemoData(s.core.db);
    });
    after(async () => s.close());

    it('detects what it looks for (positive controls)', async () => {
      assert.equal(inErrorShape('{"statusCode":400,"error":"Bad Request","message":"x"}'), false, "Fastify's own shape is not ours");
      assert.equal(inErrorShape('{"error":{"code":"SEEDCORE_INVALID_INPUT","message":"x"}}'), true);
      const before = await tableCounts(s);
      const r = await s.app.inject({ method: 'POST', url: '/api/tasks', payload: { type: 'fuzz_control' } });
      assert.equal(r.statusCode, 201);
      assert.equal((await tableCounts(s)).tasks, (before.tasks as number) + 1, 'the row counts see a write');
    });

    it('answers every bad request with a 4xx in the error shape and writes nothing for it', async () => {
      const doc = (await s.app.inject({ url: '/openapi.json' })).json();
      const list = cases(doc, prng(12), 70);
      assert.ok(list.length > 500, `${list.length} cases generated`);
      const problems: string[] = [];
      let rejected = 0;
      const started = Date.now();
      for (const c of list) {
        const writes = c.method !== 'get' && c.method !== 'head';
        const before = writes ? await tableCounts(s) : undefined;
        const r = await s.app.inject({
          method: c.method.toUpperCase() as 'GET',
          url: c.url,
          ...(c.body !== undefined ? { payload: c.body, headers: { 'content-type': 'application/json' } } : {}),
        });
        const label = `${c.method.toUpperCase()} ${c.url.slice(0, 80)} [${c.why}] → ${r.statusCode}`;
        if (r.statusCode >= 500) problems.push(`${label}: ${r.body.slice(0, 200)}`);
        if (r.statusCode >= 400) {
          rejected++;
          if (!inErrorShape(r.body)) problems.push(`${label}: not in the error shape: ${r.body.slice(0, 200)}`);
          if (before) {
            const afterCounts = await tableCounts(s);
            for (const [t, n] of Object.entries(before)) if (afterCounts[t] !== n) problems.push(`${label}: ${t} went from ${n} to ${afterCounts[t]} rows`);
          }
        }
        if (problems.length >= 25) break;
      }
      assert.deepEqual(problems, [], `${problems.length} problems in ${list.length} requests`);
      assert.ok(rejected > list.length / 2, `${rejected} of ${list.length} requests rejected (the cases are mostly bad)`);
      process.stdout.write(`# fuzz ${kind}: ${list.length} requests, ${rejected} rejected, ${Date.now() - started} ms\n`);
    });
  });
}
