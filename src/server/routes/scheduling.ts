/**
 * Queues (counts, running-task limits) and recurring-task schedules (migration 013) over HTTP.
 * Bodies, parameters and rows are the library's own schemas (src/tasks/queues.ts,
 * src/tasks/schedules.ts); the checks beyond them (cron syntax, time zone) are the library's,
 * so a bad value gets the same error here, from the library and from the CLI, and nothing is written.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { QueueLimitBodySchema, QueueNameSchema, QueueSchema } from '../../tasks/queues.js';
import { Page } from '../../tasks/rows.js';
import { ScheduleFieldsSchema, ScheduleNameSchema, ScheduleSchema, type ScheduleRow } from '../../tasks/schedules.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';

const errors = { 400: ErrorBody, 404: ErrorBody };

const QueueParams = Type.Object({ queue: QueueNameSchema });
const NameParams = Type.Object({ name: ScheduleNameSchema });
const EnabledBody = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });

export function registerSchedulingRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { queues, schedules } = ctx.core;
  const one = async (queue: string) => (await queues.list()).items.find((q) => q.queue === queue) ?? { queue, max_running: null, running: 0, waiting: 0 };

  app.get(
    '/api/queues',
    {
      schema: {
        tags: ['queues'],
        summary: 'Every queue with waiting or running tasks, or a limit.',
        response: { 200: Page(QueueSchema) },
      },
    },
    async () => queues.list(),
  );

  app.put(
    '/api/queues/:queue/limit',
    {
      schema: {
        tags: ['queues'],
        summary: 'Set the running-task limit of a queue (0 pauses it; null removes the limit). Returns the queue.',
        params: QueueParams,
        body: QueueLimitBodySchema,
        response: { 200: QueueSchema, ...errors },
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
      schema: { tags: ['schedules'], summary: 'Every schedule, by name, with its next slot.', response: { 200: Page(ScheduleSchema) } },
    },
    async () => schedules.list(),
  );

  app.get(
    '/api/schedules/:name',
    { schema: { tags: ['schedules'], summary: 'One schedule.', params: NameParams, response: { 200: ScheduleSchema, ...errors } } },
    async (request): Promise<ScheduleRow> => schedules.get(request.params.name),
  );

  app.put(
    '/api/schedules/:name',
    {
      schema: {
        tags: ['schedules'],
        summary: 'Create or replace a schedule. A new one, or one whose cron or time zone changed, fires from the next slot after now.',
        params: NameParams,
        body: ScheduleFieldsSchema,
        response: { 200: ScheduleSchema, ...errors },
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
        response: { 200: ScheduleSchema, ...errors },
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
