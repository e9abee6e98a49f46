import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { notFound } from '../../errors.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';
import { NullableInteger, NullableString } from '../schemas.js';

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
    started_at: Type.String(),
    stopped_at: NullableString(),
    last_heartbeat: Type.String(),
    heartbeat_age_seconds: Type.Number({ description: 'now() - last_heartbeat, by the database clock.' }),
  },
  { additionalProperties: true },
);

const ListQuery = Type.Object({
  all: Type.Boolean({ default: false, description: 'Include every recorded instance (dead, draining, old epochs), newest first.' }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
});

// Read-only views from migration 011; liveness is judged by the database clock only.
const COLUMNS = `instance_id, logical_id, cluster_epoch::text AS cluster_epoch, status::text AS status, actor_name, serve_route,
  node_id, host(ip_address) AS ip_address, pid, started_at, stopped_at, last_heartbeat,
  round(extract(epoch FROM now() - last_heartbeat)::numeric, 3)::float8 AS heartbeat_age_seconds`;

export function registerRegistryRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/api/registry/instances',
    {
      schema: {
        tags: ['registry'],
        summary: 'Live instances (the active_instances view), or every instance with all=true.',
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(Instance) }) },
      },
    },
    async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      const sql = q.all
        ? `SELECT ${COLUMNS} FROM registry_instance ORDER BY started_at DESC, instance_id LIMIT $1`
        : `SELECT ${COLUMNS} FROM active_instances ORDER BY logical_id, last_heartbeat DESC LIMIT $1`;
      const { rows } = await ctx.db.query(sql, [q.limit]);
      return { items: rows };
    },
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
      const { logicalId } = request.params as { logicalId: string };
      const { rows } = await ctx.db.query(`SELECT ${COLUMNS} FROM active_instance WHERE logical_id = $1`, [logicalId]);
      if (!rows[0]) throw notFound(`no live instance for logical id '${logicalId}'`, { logicalId });
      return rows[0];
    },
  );
}
