import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';
import { NullableString, TaskStatusSchema } from '../schemas.js';

export const TaskSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: TaskStatusSchema,
    attempts: Type.Integer({ description: 'Executions started.' }),
    type: Type.String(),
    params: Type.Record(Type.String(), Type.Unknown()),
    description: NullableString(),
    domain: NullableString(),
    drift_score: Type.Number(),
    run_after: NullableString({ format: 'date-time' }),
    result: Type.Unknown(),
    error: NullableString(),
    locked_by: NullableString(),
    locked_at: NullableString({ format: 'date-time' }),
    owner_id: NullableString(),
    lease_expires_at: NullableString({ format: 'date-time' }),
    last_heartbeat: NullableString({ format: 'date-time' }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { description: 'A task row.' },
);

const NewTask = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'Client-chosen UUID (so tasks of one batch can depend on each other).' })),
    type: Type.String({ minLength: 1, maxLength: 200, description: 'Task type; selects the handler.' }),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Handler input (JSON object).' })),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 100_000 }), Type.Null()])),
    domain: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
    drift_score: Type.Optional(Type.Number()),
    run_after: Type.Optional(Type.Union([Type.String({ description: 'ISO 8601 time; not claimed before it.' }), Type.Null()])),
    dependsOn: Type.Optional(Type.Array(Type.String(), { maxItems: 1000, description: 'Ids of tasks this one waits for.' })),
    agentId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    organId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
const Submit = Type.Union([NewTask, Type.Array(NewTask, { minItems: 1, maxItems: 1000 })], {
  description: 'One task, or an array of up to 1000 submitted in one transaction.',
});

const ListQuery = Type.Object({
  status: Type.Optional(Type.Array(TaskStatusSchema, { description: 'Repeat for several statuses.' })),
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  domain: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page.' })),
});
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Task id or a unique prefix (≥ 4 hex characters).' }) });
const CancelBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false, 'x-optional-body': true });
const RetryBody = Type.Object(
  { runAfter: Type.Optional(Type.String({ description: 'ISO 8601 time to run at.' })) },
  { additionalProperties: false, 'x-optional-body': true },
);

export function registerTaskRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const tasks = ctx.core.tasks;
  const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody };

  app.get(
    '/api/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Tasks, newest first, filtered by status / type / domain, keyset-paginated (pass nextCursor as cursor).',
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(TaskSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      const page = await tasks.list({
        limit: q.limit,
        ...(q.status ? { status: q.status } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.domain ? { domain: q.domain } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      return { items: page.tasks, nextCursor: page.nextCursor };
    },
  );

  app.post(
    '/api/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Submit one task (201 with the task) or an array (201 with {items}); unknown fields, wrong types or a missing dependency write nothing.',
        body: Submit,
        response: { 201: Type.Union([TaskSchema, Type.Object({ items: Type.Array(TaskSchema) })]), ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body as Static<typeof Submit>;
      if (Array.isArray(body)) return reply.status(201).send({ items: await tasks.submitMany(body) });
      return reply.status(201).send(await tasks.submit(body));
    },
  );

  app.get(
    '/api/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        summary: 'One task by id or unique id prefix (409 when the prefix is ambiguous).',
        params: IdParams,
        response: { 200: TaskSchema, ...errors },
      },
    },
    async (request) => tasks.get((request.params as Static<typeof IdParams>).id),
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
    async (request) => {
      const body = (request.body ?? {}) as Static<typeof CancelBody>;
      return tasks.cancel((request.params as Static<typeof IdParams>).id, body.reason ?? 'cancelled through the API');
    },
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
    async (request) => {
      const body = (request.body ?? {}) as Static<typeof RetryBody>;
      return tasks.retry((request.params as Static<typeof IdParams>).id, body.runAfter ? { runAfter: body.runAfter } : {});
    },
  );
}
