/**
 * Facts over HTTP: CRUD, search (text, tags, metadata, validity, confidence), versions,
 * provenance, conflicts and resolution policies. Unknown query parameters and body fields
 * are a 400 (additionalProperties: false everywhere). A fact's input, patch, invalidation and
 * row are the library's own schemas (src/facts/schemas.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  FACT_POLICIES,
  MAX_PROVENANCE_DEPTH,
  addFact,
  deleteFact,
  factVersions,
  getFact,
  getFactProvenance,
  invalidateFact,
  listPredicatePolicies,
  resolveFactConflict,
  setPredicatePolicy,
  updateFact,
  type FactConflictResolution,
  type FactPolicy,
} from '../../facts/index.js';
import { invalidInput } from '../../errors.js';
import {
  FactConflictQuerySchema,
  FactInputSchema,
  FactInvalidationSchema,
  FactPatchSchema,
  FactSchema as Fact,
  FactSearchQuerySchema,
} from '../../facts/schemas.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';

// Response fields: Dates in the library, ISO 8601 text on the wire; nullable as type [T, null]
// (serialised without a validator per value, and OpenAPI's nullable).
const Time = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
const NullableTime = Type.Unsafe<Date | null>({ type: ['string', 'null'], format: 'date-time' });
const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] });

const Hit = Type.Composite([
  Fact,
  Type.Object({
    rank: Type.Number({ description: 'text_rank × (0.5 + 0.5 × confidence), the sort key; 0 when listing without q.' }),
    text_rank: Type.Number({ description: 'ts_rank_cd (normalization 32); 0 when listing without q.' }),
    conflicts: Type.Integer({ description: 'Open conflicts this fact is part of.' }),
    snippet: Type.String({ description: 'HTML-escaped excerpt with matches wrapped in <b>…</b>.' }),
  }),
]);
const StoredSource = Type.Object({ kind: Type.String(), ref: Type.String(), created_at: Time });
const Conflict = Type.Object({
  id: Type.Integer(),
  subject: Type.String(),
  predicate: Type.String(),
  fact_id: Type.String({ format: 'uuid' }),
  other_fact_id: Type.String({ format: 'uuid' }),
  fact_value: Type.String(),
  other_value: Type.String(),
  detected_at: Time,
  status: Type.String(),
  resolution: NullableString,
  winner_fact_id: NullableString,
  resolved_by: NullableString,
  note: NullableString,
  resolved_at: NullableTime,
});
const Version = Type.Object({
  fact_id: Type.String(),
  version: Type.Integer(),
  text: Type.String(),
  tags: Type.Array(Type.String()),
  meta_data: Type.Record(Type.String(), Type.Unknown()),
  subject: NullableString,
  predicate: NullableString,
  object: NullableString,
  confidence: Type.Number(),
  valid_from: Time,
  valid_to: NullableTime,
  invalid_reason: NullableString,
  recorded_at: Time,
  replaced_at: Time,
});
const Provenance = Type.Object({
  fact: Fact,
  sources: Type.Array(StoredSource),
  conflicts: Type.Array(Conflict),
  previous_versions: Type.Integer(),
  derived_from: Type.Array(
    Type.Object({ fact: Fact, depth: Type.Integer(), via: Type.String(), sources: Type.Array(StoredSource), open_conflicts: Type.Integer() }),
  ),
  derived_by: Type.Array(Type.String()),
  depth: Type.Integer(),
  truncated: Type.Boolean(),
});
const Policy = Type.Object({ predicate: Type.String(), policy: Type.String(), updated_at: Time });

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Fact id or a unique prefix (≥ 4 hex digits).' }) });
const NoQuery = Type.Object({}, { additionalProperties: false });
const ProvenanceQuery = Type.Object({ depth: Type.Integer({ minimum: 1, maximum: MAX_PROVENANCE_DEPTH, default: 5 }) }, { additionalProperties: false });
const ConflictParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$', description: 'Conflict id.' }) });
const ResolveBody = Type.Object(
  {
    winner: Type.Optional(Type.String({ format: 'uuid', description: 'The fact that holds; the other is invalidated.' })),
    keepBoth: Type.Optional(Type.Boolean({ description: 'Close the conflict and keep both facts.' })),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
    by: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Who resolved it.' })),
  },
  { additionalProperties: false },
);
const PolicyParams = Type.Object({ predicate: Type.String({ minLength: 1, maxLength: 200 }) });
const PolicyBody = Type.Object({ policy: Type.Union(FACT_POLICIES.map((p) => Type.Literal(p))) }, { additionalProperties: false });

/**
 * The query parameters' earlier names, still accepted: `q` for `query`, `tag` for `tags`,
 * `fact` for `factId`. They are renamed before validation, so the schema (the library's) sees
 * one name and an error names the field the library would.
 */
function renameAliases(aliases: Record<string, string>): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const query = request.query;
    if (typeof query !== 'object' || query === null) return;
    const q = query as Record<string, unknown>;
    for (const [alias, name] of Object.entries(aliases)) {
      if (!(alias in q)) continue;
      if (name in q)
        throw invalidInput(`give ${name} or its older name ${alias}, not both`, {
          in: 'query',
          path: alias,
          expected: `only one of ${name}, ${alias}`,
          got: 'both',
        });
      q[name] = q[alias];
      delete q[alias];
    }
  };
}

export function registerFactRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

  app.get(
    '/api/facts',
    {
      schema: {
        tags: ['facts'],
        summary:
          'Full-text search over facts, ranked by relevance × (0.5 + 0.5 × confidence), with tag, metadata, validity (asOf) and confidence filters and conflict flags; without a query lists newest first. The query is the library FactSearchQuerySchema (q and tag: older names of query and tags).',
        querystring: FactSearchQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(Hit), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorBody },
      },
      preValidation: renameAliases({ q: 'query', tag: 'tags' }),
    },
    async (request) => {
      const page = await ctx.core.facts.search(request.query);
      return { items: page.hits, nextCursor: page.nextCursor };
    },
  );

  app.post(
    '/api/facts',
    {
      schema: {
        tags: ['facts'],
        summary: 'Create a fact, with its statement (subject/predicate/object), confidence, validity, sources and the facts it derives from.',
        body: FactInputSchema,
        response: { 201: Fact, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await addFact(ctx.db, request.body)),
  );

  app.get(
    '/api/facts/conflicts',
    {
      schema: {
        tags: ['facts'],
        summary:
          "Conflicts between facts of the same subject/predicate, newest first (open by default). The query is the library's FactConflictQuerySchema (fact: older name of factId).",
        querystring: FactConflictQuerySchema,
        response: { 200: Type.Object({ items: Type.Array(Conflict), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorBody },
      },
      preValidation: renameAliases({ fact: 'factId' }),
    },
    async (request) => ctx.core.facts.conflicts(request.query),
  );

  app.post(
    '/api/facts/conflicts/:id/resolve',
    {
      schema: {
        tags: ['facts'],
        summary: 'Resolve a conflict by hand: {winner: factId} invalidates the other fact; {keepBoth: true} keeps both.',
        params: ConflictParams,
        body: ResolveBody,
        response: { 200: Conflict, ...errors },
      },
    },
    async (request) => {
      const b = request.body;
      const extra = { ...(b.note !== undefined ? { note: b.note } : {}), ...(b.by !== undefined ? { by: b.by } : {}) };
      if ((b.winner !== undefined) === (b.keepBoth === true))
        throw invalidInput('give exactly one of winner (a fact id) or keepBoth: true', { field: 'winner' });
      const how: FactConflictResolution = b.winner !== undefined ? { winner: b.winner, ...extra } : { keepBoth: true, ...extra };
      return resolveFactConflict(ctx.db, request.params.id, how);
    },
  );

  app.get(
    '/api/facts/policies',
    {
      schema: {
        tags: ['facts'],
        summary: 'Predicates with a resolution policy of their own (others are keep_both).',
        querystring: NoQuery,
        response: { 200: Type.Object({ items: Type.Array(Policy) }) },
      },
    },
    async () => ({ items: await listPredicatePolicies(ctx.db) }),
  );

  app.put(
    '/api/facts/policies/:predicate',
    {
      schema: {
        tags: ['facts'],
        summary: 'Set the resolution policy of a predicate (latest_wins, highest_confidence, keep_both) and apply it to existing facts.',
        params: PolicyParams,
        body: PolicyBody,
        response: { 200: Policy, 400: ErrorBody },
      },
    },
    async (request) => setPredicatePolicy(ctx.db, request.params.predicate, request.body.policy as FactPolicy),
  );

  app.get(
    '/api/facts/:id',
    {
      schema: {
        tags: ['facts'],
        summary: 'One fact by id or unique id prefix (409 when ambiguous); invalidated facts too.',
        params: IdParams,
        querystring: NoQuery,
        response: { 200: Fact, ...errors },
      },
    },
    async (request) => getFact(ctx.db, request.params.id),
  );

  app.get(
    '/api/facts/:id/provenance',
    {
      schema: {
        tags: ['facts'],
        summary: 'Who said it, from what, when, how sure and what contradicts it: sources, the derives_from chain (bounded depth) and conflicts.',
        params: IdParams,
        querystring: ProvenanceQuery,
        response: { 200: Provenance, ...errors },
      },
    },
    async (request) => getFactProvenance(ctx.db, request.params.id, { depth: request.query.depth }),
  );

  app.get(
    '/api/facts/:id/versions',
    {
      schema: {
        tags: ['facts'],
        summary: 'Earlier versions of a fact, oldest first (the current version is GET /api/facts/:id).',
        params: IdParams,
        querystring: NoQuery,
        response: { 200: Type.Object({ items: Type.Array(Version) }), ...errors },
      },
    },
    async (request) => ({ items: await factVersions(ctx.db, request.params.id) }),
  );

  app.post(
    '/api/facts/:id/invalidate',
    {
      schema: {
        tags: ['facts'],
        summary: 'Mark a fact as no longer valid (from now or `at`), with a reason; it stays readable.',
        params: IdParams,
        body: FactInvalidationSchema,
        response: { 200: Fact, ...errors },
      },
    },
    async (request) => invalidateFact(ctx.db, request.params.id, request.body),
  );

  app.patch(
    '/api/facts/:id',
    {
      schema: {
        tags: ['facts'],
        summary: 'Replace the given fields of a fact; the previous version is kept (GET /api/facts/:id/versions).',
        params: IdParams,
        body: FactPatchSchema,
        response: { 200: Fact, ...errors },
      },
    },
    async (request) => updateFact(ctx.db, request.params.id, request.body),
  );

  app.delete(
    '/api/facts/:id',
    {
      schema: {
        tags: ['facts'],
        summary: 'Delete a fact (its edges, sources, versions and conflicts go with it); returns the deleted fact.',
        params: IdParams,
        response: { 200: Fact, ...errors },
      },
    },
    async (request) => deleteFact(ctx.db, request.params.id),
  );
}
