import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { SeedCoreError } from '../../errors.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';

export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'The process is up (does not touch the database).',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'The database answers (SELECT 1); 503 otherwise.',
        response: { 200: Type.Object({ status: Type.Literal('ready'), backend: Type.String() }), 503: ErrorBody },
      },
    },
    async () => {
      if (ctx.shuttingDown()) throw new SeedCoreError('SEEDCORE_UNAVAILABLE', 'shutting down');
      try {
        await ctx.db.query('SELECT 1');
      } catch (e) {
        throw new SeedCoreError('SEEDCORE_UNAVAILABLE', 'database unreachable', { cause: e });
      }
      return { status: 'ready' as const, backend: ctx.db.kind };
    },
  );

  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics (text exposition format).' } }, async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    void reply.header('content-type', ctx.metrics.registry.contentType);
    return text;
  });
}
