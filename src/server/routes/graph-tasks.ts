import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ServerContext } from '../context.js';
import { NullableString, TaskStatusSchema } from '../schemas.js';

const Query = Type.Object({
  status: Type.Optional(TaskStatusSchema),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
});

const GraphTask = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.String(),
    status: Type.String(),
    status_emoji: Type.String(),
    attempts: Type.Integer(),
    locked_by: NullableString(),
    locked_at: NullableString(),
    run_after: NullableString(),
    params: Type.Unknown(),
    result: Type.Unknown(),
    error: NullableString(),
    created_at: Type.String(),
    updated_at: Type.String(),
    drift_score: Type.Number(),
  },
  { additionalProperties: true },
);

export function registerGraphTaskRoutes(app: FastifyInstance, ctx: ServerContext): void {
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
      const q = request.query as Static<typeof Query>;
      // graph_tasks is already ordered (updated_at DESC, id); the LIMIT keeps that order.
      const { rows } = await ctx.db.query(
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
