/**
 * Tasks over HTTP. Bodies, queries and rows use the library's own schemas (TaskInputSchema,
 * TaskListQuerySchema, TaskSchema), so the HTTP API, the CLI and the library accept and show
 * the same fields.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TaskIdSchema, TaskListQuerySchema } from '../../tasks/coordinator.js';
import { Page, TaskSchema } from '../../tasks/rows.js';
import { TaskSubmissionSchema } from '../../tasks/validate.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';
import { DurableViewSchema } from '../../tasks/durable/inspect.js';
import { OptionalBody } from '../validation.js';
import { RoutedTaskSchema, withUnroutable } from '../../agents/routing.js';

export { TaskSchema };

const IdParams = Type.Object({ id: TaskIdSchema });
const CancelBody = OptionalBody(Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }));
const RetryBody = OptionalBody(
  Type.Object({ runAfter: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601 time to run at.' })) }, { additionalProperties: false }),
);

export function registerTaskRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tasks = ctx.core.tasks;
  const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

  app.get(
    '/api/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Tasks, newest first, filtered by status / type / domain, keyset-paginated (pass nextCursor as cursor).',
        querystring: TaskListQuerySchema,
        response: { 200: Page(RoutedTaskSchema), 400: ErrorBody },
      },
    },
    async (request) => {
      const page = await tasks.list(request.query);
      return { ...page, items: await withUnroutable(ctx.core.db, page.items) };
    },
  );

  app.post(
    '/api/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary:
          'Submit one task (201 with the task) or an array (201 with {items}); unknown fields, wrong types or a missing dependency write nothing. A dedup_key held by a live task returns that task.',
        body: TaskSubmissionSchema,
        response: { 201: Type.Union([TaskSchema, Type.Object({ items: Type.Array(TaskSchema) })]), ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (Array.isArray(body)) return reply.status(201).send({ items: await tasks.submitMany(body) });
      return reply.status(201).send(await tasks.submit(body));
    },
  );

  app.get(
    '/api/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        summary:
          'One task by id or unique id prefix (409 when the prefix is ambiguous), with its durable execution (runs, completed steps, what it waits for).',
        params: IdParams,
        response: { 200: Type.Intersect([RoutedTaskSchema, Type.Object({ durable: DurableViewSchema })]), ...errors },
      },
    },
    async (request) => {
      const row = await tasks.get(request.params.id);
      const [routed] = await withUnroutable(ctx.core.db, [row]);
      return { ...row, unroutable: routed?.unroutable ?? null, durable: await tasks.durable(row.id) };
    },
  );

  app.post(
    '/api/tasks/:id/cancel',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Cancel a task that has not ended (its dependents too); 409 if it already ended.',
        params: IdParams,
        body: CancelBody,
        response: { 200: TaskSchema, ...errors },
      },
    },
    async (request) => tasks.cancel(request.params.id, request.body?.reason ?? 'cancelled through the API'),
  );

  app.post(
    '/api/tasks/:id/retry',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Run a failed or cancelled task again with a fresh attempt budget; 409 otherwise.',
        params: IdParams,
        body: RetryBody,
        response: { 200: TaskSchema, ...errors },
      },
    },
    async (request) => tasks.retry(request.params.id, request.body?.runAfter ? { runAfter: request.body.runAfter } : {}),
  );
}
