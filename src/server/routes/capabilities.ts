/** Capability discovery over HTTP: each capability, its live providers and the waiting tasks that need it. */
import type { FastifyInstance } from 'fastify';
import { CapabilityListSchema, listCapabilities } from '../../agents/routing.js';
import type { ServerContext } from '../context.js';

export function registerCapabilityRoutes(app: FastifyInstance, ctx: ServerContext): void {
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
}
