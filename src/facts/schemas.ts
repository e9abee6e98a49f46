/**
 * The one description of a fact: what addFact, updateFact and invalidateFact take (and so
 * POST/PATCH /api/facts and `seedcore facts add|update|invalidate`), and what every face
 * returns (the OpenAPI `Fact` component). The library keeps only the checks a schema cannot
 * say: strict timestamps, subject and predicate together, source refs by kind, existing parents.
 */
import { Type, type Static } from '@sinclair/typebox';
import { FACT_SOURCE_KINDS } from './types.js';

const NonBlank = (max: number, description?: string) => Type.String({ minLength: 1, maxLength: max, pattern: '\\S', ...(description ? { description } : {}) });
const OrNull = <T extends ReturnType<typeof NonBlank>>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });
// Dates in the library, ISO 8601 text on the wire; nullable as type [T, null] (serialised without
// a validator per value, and OpenAPI's nullable).
const Time = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
const NullableTime = Type.Unsafe<Date | null>({ type: ['string', 'null'], format: 'date-time' });
const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] });
/** An instant as given: strict ISO 8601 is checked by the library (a Date there too). */
const Instant = (description: string) => Type.String({ minLength: 1, maxLength: 40, description });

/** Who asserted a fact. */
export const FactSourceInputSchema = Type.Object(
  {
    kind: Type.Union(
      FACT_SOURCE_KINDS.map((k) => Type.Literal(k)),
      { description: 'task and artifact: a uuid ref; uri: an absolute URI.' },
    ),
    ref: NonBlank(2000, 'Task id, agent_id, organ_id, artifact id or URI.'),
  },
  { additionalProperties: false },
);

const Tags = Type.Array(NonBlank(1000), { maxItems: 1000, description: 'Free tags (duplicates removed).' });
const Meta = Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON object.' });

const ClaimFields = {
  subject: Type.Optional(OrNull(NonBlank(1000), 'What the fact is about; set together with predicate.')),
  predicate: Type.Optional(OrNull(NonBlank(1000), 'The property stated about the subject.')),
  object: Type.Optional(OrNull(NonBlank(100_000), 'The value stated; conflicts compare object ?? text.')),
  confidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: '0..1. Default 1.' })),
  valid_from: Type.Optional(Instant('When the fact starts to hold (ISO 8601). Default now.')),
  valid_to: Type.Optional(Type.Union([Instant('When it stops holding (ISO 8601).'), Type.Null()])),
};

/** A new fact: addFact, POST /api/facts, `seedcore facts add`. */
export const FactInputSchema = Type.Object(
  {
    text: NonBlank(100_000, 'The fact, in prose.'),
    tags: Type.Optional(Tags),
    meta_data: Type.Optional(Meta),
    ...ClaimFields,
    sources: Type.Optional(Type.Array(FactSourceInputSchema, { maxItems: 100 })),
    derivedFrom: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 1000, description: 'Ids of the facts this one was derived from.' })),
  },
  { additionalProperties: false, description: 'A fact to add.' },
);

/** The fields to replace: updateFact, PATCH /api/facts/:id, `seedcore facts update` (at least one). */
export const FactPatchSchema = Type.Object(
  {
    text: Type.Optional(NonBlank(100_000)),
    tags: Type.Optional(Tags),
    meta_data: Type.Optional(Meta),
    ...ClaimFields,
    invalid_reason: Type.Optional(OrNull(NonBlank(10_000), 'Why it no longer holds.')),
  },
  { additionalProperties: false, description: 'Fields of a fact to replace.' },
);

/** invalidateFact, POST /api/facts/:id/invalidate, `seedcore facts invalidate`. */
export const FactInvalidationSchema = Type.Object(
  { reason: NonBlank(10_000, 'Why it no longer holds.'), at: Type.Optional(Instant('From when (ISO 8601). Default now.')) },
  { additionalProperties: false, description: 'An invalidation.' },
);

/** A stored fact, as every face returns it. */
export const FactSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    text: Type.String(),
    tags: Type.Array(Type.String()),
    meta_data: Type.Record(Type.String(), Type.Unknown()),
    subject: NullableString,
    predicate: NullableString,
    object: NullableString,
    confidence: Type.Number({ minimum: 0, maximum: 1 }),
    valid_from: Time,
    valid_to: NullableTime,
    invalid_reason: NullableString,
    version: Type.Integer(),
    superseded: Type.Boolean({ description: "True while another fact of the same subject/predicate wins under the predicate's policy." }),
    created_at: Time,
    updated_at: Time,
  },
  { description: 'A fact.' },
);

export type FactInputWire = Static<typeof FactInputSchema>;

/**
 * What a search takes: facts.search(options), GET /api/facts's query and `seedcore facts
 * search`. Over HTTP `meta` is the object's JSON text (the library takes either); the
 * library's tuning option maxCandidates is not part of it (it is no caller's input). The
 * limit's maximum is search.ts's MAX_SEARCH_LIMIT.
 */
export const FactSearchQuerySchema = Type.Object(
  {
    query: Type.Optional(Type.String({ maxLength: 1000, description: 'Web-search syntax: words, "phrases", or, -exclusion. Empty: newest first.' })),
    tags: Type.Optional(Type.Array(NonBlank(1000), { maxItems: 100, description: 'Keep facts with any of these tags (all of them with allTags).' })),
    allTags: Type.Optional(Type.Boolean({ default: false, description: 'Require every tag instead of any.' })),
    meta: Type.Optional(
      Type.Union([Meta, Type.String({ maxLength: 10_000 })], {
        description: 'Keep facts whose metadata contains this JSON object, e.g. {"source":"docs"} (over HTTP: its JSON text).',
      }),
    ),
    asOf: Type.Optional(Instant('ISO 8601 instant: facts valid then (superseded ones included). Default: valid now, not superseded.')),
    minConfidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Keep facts at least this sure.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20, description: 'Page size.' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'nextCursor of the previous page.' })),
  },
  { additionalProperties: false, description: 'A fact search.' },
);

/** What a conflict listing takes: facts.conflicts(options), GET /api/facts/conflicts's query and `seedcore facts conflicts`. */
export const FactConflictQuerySchema = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved'), Type.Literal('all')], { default: 'open', description: 'Default open.' })),
    subject: Type.Optional(NonBlank(1000, 'Only this subject.')),
    predicate: Type.Optional(NonBlank(1000, 'Only this predicate.')),
    factId: Type.Optional(Type.String({ format: 'uuid', description: 'Only conflicts this fact is part of.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'Page size.' })),
    cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,17}$', description: 'nextCursor of the previous page.' })),
  },
  { additionalProperties: false, description: 'A conflict listing.' },
);
