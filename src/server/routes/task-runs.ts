/**
 * Durable tasks over HTTP: emit an event (`POST /api/task-events`, first emit wins) and read
 * a task's runs (`GET /api/tasks/:id/runs`). Both behind the API token like every /api route.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TaskIdSchema } from '../../tasks/coordinator.js';
import { MAX_EVENT_NAME } from '../../tasks/durable/events.js';
import { TaskRunSchema, taskRuns } from '../../tasks/durable/inspect.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';

const EventBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: MAX_EVENT_NAME, description: 'Event name; tasks waiting in ctx.awaitEvent(name) wake up.' }),
    payload: Type.Optional(Type.Unknown({ description: 'Any JSON value (default null); the first emit of a name keeps its payload.' })),
  },
  { additionalProperties: false },
);

export function registerTaskRunRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tasks = ctx.core.tasks;

  app.post(
    '/api/task-events',
    {
      schema: {
        tags: ['tasks'],
        summary:
          'Emit a durable-task event: 201 {emitted: true} for the first emit of the name, 200 {emitted: false} when it had been emitted (nothing changes).',
        body: EventBody,
        response: {
          200: Type.Object({ name: Type.String(), emitted: Type.Boolean() }),
          201: Type.Object({ name: Type.String(), emitted: Type.Boolean() }),
          400: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { name, payload } = request.body;
      const emitted = await tasks.emitEvent(name, payload);
      return reply.status(emitted ? 201 : 200).send({ name, emitted });
    },
  );

  app.get(
    '/api/tasks/:id/runs',
    {
      schema: {
        tags: ['tasks'],
        summary: "A task's executions, oldest first (the running one last, outcome 'running').",
        params: Type.Object({ id: TaskIdSchema }),
        response: { 200: Type.Object({ items: Type.Array(TaskRunSchema) }), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const id = await tasks.resolveId(request.params.id);
      await tasks.durable(id); // 404 for an unknown id
      return { items: await taskRuns(ctx.db, id) };
    },
  );
}
