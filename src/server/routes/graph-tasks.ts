import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { ServerContext } from '../context.js';
import { NullableString, NullableTimestamp, TaskStatusSchema, Timestamp } from '../schemas.js';

const Query = Type.Object(
  {
    status: Type.Optional(TaskStatusSchema),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  },
  { additionalProperties: false },
);

const GraphTask = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.String(),
    status: Type.String(),
    status_emoji: Type.String(),
    attempts: Type.Integer(),
    locked_by: NullableString(),
    locked_at: NullableTimestamp(),
    run_after: NullableTimestamp(),
    params: Type.Unknown(),
    result: Type.Unknown(),
    error: NullableString(),
    created_at: Timestamp(),
    updated_at: Timestamp(),
    drift_score: Type.Number(),
  },
  { additionalProperties: true },
);

export function registerGraphTaskRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/graph-tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Graph tasks (graph_embed, graph_rag_query) from the graph_tasks view, most recently updated first, with status_emoji.',
        querystring: Query,
        response: { 200: Type.Object({ items: Type.Array(GraphTask) }) },
      },
    },
    async (request) => {
      const q = request.query;
      // graph_tasks is already ordered (updated_at DESC, id); the LIMIT keeps that order.
      const { rows } = await ctx.db.query<Static<typeof GraphTask>>(
        `SELECT id, type, status::text AS status, status_emoji, attempts, locked_by, locked_at, run_after,
                params, result, error, created_at, updated_at, drift_score
           FROM graph_tasks
          WHERE ($1::text IS NULL OR status::text = $1)
          LIMIT $2`,
        [q.status ?? null, q.limit],
      );
      return { items: rows };
    },
  );
}
