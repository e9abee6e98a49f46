import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { addFact, deleteFact, getFact, searchFacts, updateFact, MAX_SEARCH_LIMIT } from '../../facts/index.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';

const Fact = Type.Object({
  id: Type.String({ format: 'uuid' }),
  text: Type.String(),
  tags: Type.Array(Type.String()),
  meta_data: Type.Record(Type.String(), Type.Unknown()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const Hit = Type.Composite([
  Fact,
  Type.Object({
    rank: Type.Number({ description: 'ts_rank_cd (normalization 32); 0 when listing without q.' }),
    snippet: Type.String({ description: 'HTML-escaped excerpt with matches wrapped in <b>…</b>.' }),
  }),
]);
const SearchQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 1000, description: 'Web-search syntax: words, "phrases", or, -exclusion. Empty: newest first.' })),
  tag: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Repeat to filter by several tags (any of them, or all with allTags=true).' })),
  allTags: Type.Boolean({ default: false }),
  limit: Type.Integer({ minimum: 1, maximum: MAX_SEARCH_LIMIT, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 500 })),
});
const NewFact = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 100_000 }),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    meta_data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
const FactPatch = Type.Object(
  {
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 100_000 })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    meta_data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false, minProperties: 1 },
);
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Fact id or a unique prefix (≥ 4 hex digits).' }) });

export function registerFactRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

  app.get(
    '/api/facts',
    {
      schema: {
        tags: ['facts'],
        summary: 'Full-text search over facts (ranked, highlighted snippets, tag filters, keyset pagination); without q lists newest first.',
        querystring: SearchQuery,
        response: { 200: Type.Object({ items: Type.Array(Hit), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query as Static<typeof SearchQuery>;
      const page = await searchFacts(ctx.db, {
        query: q.q ?? '',
        limit: q.limit,
        allTags: q.allTags,
        ...(q.tag ? { tags: q.tag } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      return { items: page.hits, nextCursor: page.nextCursor };
    },
  );

  app.post(
    '/api/facts',
    { schema: { tags: ['facts'], summary: 'Create a fact.', body: NewFact, response: { 201: Fact, 400: ErrorBody } } },
    async (request, reply) => {
      const fact = await addFact(ctx.db, request.body as Static<typeof NewFact>);
      return reply.status(201).send(fact);
    },
  );

  app.get(
    '/api/facts/:id',
    { schema: { tags: ['facts'], summary: 'One fact by id or unique id prefix (409 when ambiguous).', params: IdParams, response: { 200: Fact, ...errors } } },
    async (request) => getFact(ctx.db, (request.params as Static<typeof IdParams>).id),
  );

  app.patch(
    '/api/facts/:id',
    {
      schema: {
        tags: ['facts'],
        summary: 'Replace the given fields (text, tags, meta_data) of a fact.',
        params: IdParams,
        body: FactPatch,
        response: { 200: Fact, ...errors },
      },
    },
    async (request) => updateFact(ctx.db, (request.params as Static<typeof IdParams>).id, request.body as Static<typeof FactPatch>),
  );

  app.delete(
    '/api/facts/:id',
    {
      schema: {
        tags: ['facts'],
        summary: 'Delete a fact (its task edges go with it); returns the deleted fact.',
        params: IdParams,
        response: { 200: Fact, ...errors },
      },
    },
    async (request) => deleteFact(ctx.db, (request.params as Static<typeof IdParams>).id),
  );
}
