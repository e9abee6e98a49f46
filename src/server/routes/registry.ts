import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { notFound } from '../../errors.js';
import { listRegistry, lookup, RegistryListQuerySchema } from '../../registry/index.js';
import { Page } from '../../tasks/rows.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';
import { NullableInteger, NullableString, NullableTimestamp, Timestamp } from '../schemas.js';

const Instance = Type.Object(
  {
    instance_id: Type.String({ format: 'uuid' }),
    logical_id: Type.String(),
    cluster_epoch: Type.String(),
    status: Type.String(),
    actor_name: NullableString(),
    serve_route: NullableString(),
    node_id: NullableString(),
    ip_address: NullableString(),
    pid: NullableInteger(),
    started_at: Timestamp(),
    stopped_at: NullableTimestamp(),
    last_heartbeat: Timestamp(),
    heartbeat_age_seconds: Type.Number({ description: 'now() - last_heartbeat, by the database clock.' }),
  },
  { additionalProperties: true },
);

export function registerRegistryRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/registry/instances',
    {
      schema: {
        tags: ['registry'],
        summary: 'Live instances (the active_instances view), or every instance with all=true.',
        querystring: RegistryListQuerySchema,
        response: { 200: Page(Instance) },
      },
    },
    // The library's listing, so HTTP, the library and `seedcore registry list` answer alike.
    async (request) => listRegistry(ctx.db, request.query),
  );

  app.get(
    '/api/registry/active/:logicalId',
    {
      schema: {
        tags: ['registry'],
        summary: 'The one live instance serving a logical id (the active_instance view); 404 when none is alive.',
        params: Type.Object({ logicalId: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: Instance, 404: ErrorBody },
      },
    },
    async (request) => {
      const { logicalId } = request.params;
      const instance = await lookup(ctx.db, logicalId);
      if (!instance) throw notFound(`no live instance for logical id '${logicalId}'`, { logicalId });
      return instance;
    },
  );
}
