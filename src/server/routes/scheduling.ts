/**
 * Queues (counts, running-task limits) and recurring-task schedules (migration 013) over HTTP.
 * Validation beyond the schemas (cron syntax, time zone, priority) is the library's: its
 * SeedCoreErrors become 400/404 in the one error shape, and nothing is written.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ScheduleRow } from '../../tasks/schedules.js';
import { TASK_PRIORITIES } from '../../tasks/types.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';
import { NullableInteger, NullableString, NullableTimestamp, Timestamp } from '../schemas.js';

const errors = { 400: ErrorBody, 404: ErrorBody };

const Queue = Type.Object({
  queue: Type.String(),
  max_running: NullableInteger(),
  running: Type.Integer(),
  waiting: Type.Integer({ description: 'queued + retry' }),
});
const QueueParams = Type.Object({ queue: Type.String({ minLength: 1, maxLength: 200 }) });
const LimitBody = Type.Object(
  {
    max_running: Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000 }), Type.Null()], {
      description: 'Running-task limit; 0 pauses the queue, null removes the limit.',
    }),
  },
  { additionalProperties: false },
);

const Priority = Type.Union(
  TASK_PRIORITIES.map((p) => Type.Literal(p)),
  { description: 'Task priority.' },
);
const Schedule = Type.Object({
  name: Type.String(),
  cron: Type.String(),
  timezone: Type.String(),
  type: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  queue: Type.String(),
  priority: Type.String(),
  enabled: Type.Boolean(),
  last_slot: Timestamp(),
  last_task_id: NullableString({ format: 'uuid' }),
  next_slot: NullableTimestamp({ description: 'Next slot that will fire; null when disabled.' }),
  created_at: Timestamp(),
  updated_at: Timestamp(),
});
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) });
const ScheduleBody = Type.Object(
  {
    cron: Type.String({ minLength: 1, maxLength: 200, description: '5-field cron expression or @hourly, @daily, …' }),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'IANA time zone; default UTC.' })),
    type: Type.String({ minLength: 1, maxLength: 200 }),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    queue: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    priority: Type.Optional(Priority),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const EnabledBody = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });

export function registerSchedulingRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { queues, schedules } = ctx.core;
  const one = async (queue: string) => (await queues.list()).find((q) => q.queue === queue) ?? { queue, max_running: null, running: 0, waiting: 0 };

  app.get(
    '/api/queues',
    {
      schema: {
        tags: ['queues'],
        summary: 'Every queue with waiting or running tasks, or a limit.',
        response: { 200: Type.Object({ items: Type.Array(Queue) }) },
      },
    },
    async () => ({ items: await queues.list() }),
  );

  app.put(
    '/api/queues/:queue/limit',
    {
      schema: {
        tags: ['queues'],
        summary: 'Set the running-task limit of a queue (0 pauses it; null removes the limit). Returns the queue.',
        params: QueueParams,
        body: LimitBody,
        response: { 200: Queue, ...errors },
      },
    },
    async (request) => {
      const { queue } = request.params;
      await queues.setLimit(queue, request.body.max_running);
      return one(queue);
    },
  );

  app.get(
    '/api/schedules',
    {
      schema: { tags: ['schedules'], summary: 'Every schedule, by name, with its next slot.', response: { 200: Type.Object({ items: Type.Array(Schedule) }) } },
    },
    async () => ({ items: await schedules.list() }),
  );

  app.get(
    '/api/schedules/:name',
    { schema: { tags: ['schedules'], summary: 'One schedule.', params: NameParams, response: { 200: Schedule, ...errors } } },
    async (request): Promise<ScheduleRow> => schedules.get(request.params.name),
  );

  app.put(
    '/api/schedules/:name',
    {
      schema: {
        tags: ['schedules'],
        summary: 'Create or replace a schedule. A new one, or one whose cron or time zone changed, fires from the next slot after now.',
        params: NameParams,
        body: ScheduleBody,
        response: { 200: Schedule, ...errors },
      },
    },
    async (request) => schedules.set({ ...request.body, name: request.params.name }),
  );

  app.patch(
    '/api/schedules/:name',
    {
      schema: {
        tags: ['schedules'],
        summary: 'Enable (slots after now fire; missed ones do not) or disable a schedule.',
        params: NameParams,
        body: EnabledBody,
        response: { 200: Schedule, ...errors },
      },
    },
    async (request) => schedules.setEnabled(request.params.name, request.body.enabled),
  );

  app.delete(
    '/api/schedules/:name',
    { schema: { tags: ['schedules'], summary: 'Delete a schedule.', params: NameParams, response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      await schedules.delete(request.params.name);
      return reply.code(204).send(null);
    },
  );
}
