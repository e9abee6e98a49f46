/**
 * Capability discovery and organs over HTTP: each capability with its live providers and the
 * waiting tasks that need it; the registered organs with their agent, offer and live instances.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { MAX_ORGAN_PAGE, OrganPageSchema, OrganSchema, getOrgan, listOrgans } from '../../agents/organs.js';
import { CapabilityListSchema, listCapabilities } from '../../agents/routing.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';

const OrganListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: MAX_ORGAN_PAGE, default: 100 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'nextCursor of the previous page.' })),
  },
  { additionalProperties: false },
);

export function registerCapabilityRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/capabilities',
    {
      schema: {
        tags: ['agents'],
        summary:
          'Every capability by name: its live providers (organ, registry instance, version, tasks in flight) and the number of waiting tasks that require it.',
        response: { 200: CapabilityListSchema },
      },
    },
    async () => ({ items: await listCapabilities(ctx.db), nextCursor: null }),
  );

  app.get(
    '/api/organs',
    {
      schema: {
        tags: ['agents'],
        summary:
          'Registered organs by id: the agent, capabilities with versions, skills and the alive registry instances serving each; keyset-paginated (pass nextCursor as cursor).',
        querystring: OrganListQuery,
        response: { 200: OrganPageSchema, 400: ErrorBody },
      },
    },
    async (request) => listOrgans(ctx.db, { limit: request.query.limit, ...(request.query.cursor !== undefined ? { cursor: request.query.cursor } : {}) }),
  );

  app.get(
    '/api/organs/:id',
    {
      schema: {
        tags: ['agents'],
        summary: 'One registered organ: its agent, capabilities with versions, skills and alive registry instances.',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: OrganSchema, 404: ErrorBody },
      },
    },
    async (request) => getOrgan(ctx.db, request.params.id),
  );
}
