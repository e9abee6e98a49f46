import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../context.js';
import { STATUS_EMOJI, instancesAlive, taskOverview } from '../overview.js';

export function registerOverviewRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/api/overview',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Task counts by status (with the seed status emojis), total, a change version, and the number of live instances.',
        response: {
          200: Type.Object({
            counts: Type.Record(Type.String(), Type.Integer()),
            emojis: Type.Record(Type.String(), Type.String()),
            total: Type.Integer(),
            version: Type.String(),
            instancesAlive: Type.Integer(),
            backend: Type.String(),
            features: Type.Record(Type.String(), Type.Boolean(), { description: 'Library-backed route groups this server exposes.' }),
          }),
        },
      },
    },
    async () => {
      const [overview, alive] = await Promise.all([taskOverview(ctx.db), instancesAlive(ctx.db)]);
      return { ...overview, emojis: STATUS_EMOJI, instancesAlive: alive, backend: ctx.db.kind, features: { ...ctx.features } };
    },
  );

  app.get(
    '/api/events',
    {
      schema: {
        tags: ['dashboard'],
        summary:
          'Server-sent events: an `overview` event (counts, version, instancesAlive) at once, on every new-task notification (LISTEN seedcore_tasks) and on a periodic tick. Accepts ?token= because EventSource cannot send headers.',
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
      },
    },
    async (request, reply) => {
      reply.hijack();
      await ctx.events.attach(reply.raw);
      request.log.debug('event stream attached');
    },
  );
}
