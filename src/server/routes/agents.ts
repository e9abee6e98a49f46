/**
 * The agent layer's records over HTTP: memory cells and their versions, artifacts (all, or
 * those a task produced) and agent performance. Read-only: handlers write memory and
 * artifacts through ctx. Behind the API token like every /api route.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ArtifactPageSchema, ArtifactSchema, MAX_KIND_LENGTH, getArtifact, listArtifacts } from '../../agents/artifacts.js';
import { MAX_KEY_LENGTH, MAX_SCOPE_LENGTH, MemoryPageSchema, listMemory, listMemoryVersions, getMemory } from '../../agents/memory.js';
import { AgentStatsSchema, MAX_STAT_KEYS, STAT_DIMENSIONS, agentStats } from '../../agents/stats.js';
import { notFound } from '../../errors.js';
import { TaskIdSchema } from '../../tasks/coordinator.js';
import type { ServerContext } from '../context.js';
import { ErrorBody } from '../http-errors.js';

const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });
const Cursor = Type.Optional(Type.String({ minLength: 1, maxLength: 10_000, description: 'nextCursor of the previous page.' }));

const MemoryQuery = Type.Object(
  {
    scope: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SCOPE_LENGTH, description: 'e.g. agent, organ, global.' })),
    key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_KEY_LENGTH,
        description: 'With scope: every version of this key, newest first. Without: the latest version of each key.',
      }),
    ),
    version: Type.Optional(Type.Integer({ minimum: 1, description: 'With scope and key: only this version (404 when there is none).' })),
    prefix: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH, description: 'Without key: keys that start with this.' })),
    limit: Limit,
    cursor: Cursor,
  },
  { additionalProperties: false },
);

const ArtifactQuery = Type.Object(
  {
    task: Type.Optional(Type.String({ format: 'uuid', description: 'Only the artifacts this task produced.' })),
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_KIND_LENGTH })),
    limit: Limit,
    cursor: Cursor,
  },
  { additionalProperties: false },
);

const StatsQuery = Type.Object(
  {
    window: Type.String({ minLength: 1, maxLength: 20, default: '1h', description: 'e.g. 90s, 30m, 1h, 7d (at most 366d).' }),
    dimension: Type.Optional(
      Type.Array(Type.Union(STAT_DIMENSIONS.map((d) => Type.Literal(d))), {
        description: 'Repeat to keep several of organ, agent, capability (default: all).',
      }),
    ),
    keys: Type.Integer({
      minimum: 1,
      maximum: MAX_STAT_KEYS,
      default: 100,
      description: 'Most keys per dimension; the rest are folded into one row with other=true.',
    }),
    source: Type.Union([Type.Literal('auto'), Type.Literal('task_runs'), Type.Literal('tasks')], { default: 'auto' }),
  },
  { additionalProperties: false },
);

export function registerAgentRoutes(fastify: FastifyInstance, ctx: ServerContext): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/memory',
    {
      schema: {
        tags: ['agents'],
        summary:
          'Memory cells: with scope and key, every version of the key (newest first; with version, only that one); otherwise the latest version of each key, by scope and key.',
        querystring: MemoryQuery,
        response: { 200: MemoryPageSchema, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query;
      const page = { limit: q.limit, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) };
      if (q.key !== undefined) {
        const scope = q.scope ?? '';
        if (q.version !== undefined) {
          const cell = await getMemory(ctx.db, scope, q.key, { version: q.version });
          if (!cell) throw notFound(`memory ${scope}/${q.key} has no version ${q.version}`, { scope, key: q.key, version: q.version });
          return { items: [cell], nextCursor: null };
        }
        return listMemoryVersions(ctx.db, scope, q.key, page);
      }
      return listMemory(ctx.db, { ...page, ...(q.scope !== undefined ? { scope: q.scope } : {}), ...(q.prefix !== undefined ? { prefix: q.prefix } : {}) });
    },
  );

  app.get(
    '/api/artifacts',
    {
      schema: {
        tags: ['agents'],
        summary: 'Artifacts, newest first: all, those a task produced (task=) and/or of one kind.',
        querystring: ArtifactQuery,
        response: { 200: ArtifactPageSchema, 400: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query;
      return listArtifacts(ctx.db, {
        limit: q.limit,
        ...(q.task !== undefined ? { task: q.task } : {}),
        ...(q.kind !== undefined ? { kind: q.kind } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
    },
  );

  app.get(
    '/api/artifacts/:id',
    {
      schema: {
        tags: ['agents'],
        summary: 'One artifact, with the tasks that produced it.',
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: ArtifactSchema, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => getArtifact(ctx.db, request.params.id),
  );

  if (ctx.features.tasks)
    app.get(
      '/api/tasks/:id/artifacts',
      {
        schema: {
          tags: ['agents'],
          summary: 'The artifacts a task produced (task__produces__artifact), newest first. The id may be a unique prefix.',
          params: Type.Object({ id: TaskIdSchema }),
          querystring: Type.Object({ limit: Limit, cursor: Cursor }, { additionalProperties: false }),
          response: { 200: ArtifactPageSchema, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request) => {
        const id = await ctx.core.tasks.resolveId(request.params.id);
        const q = request.query;
        return listArtifacts(ctx.db, { task: id, limit: q.limit, ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) });
      },
    );

  app.get(
    '/api/agents/stats',
    {
      schema: {
        tags: ['agents'],
        summary:
          'Agent performance over a window: per organ, agent and capability, executions completed, failed and retried, the failure rate and p50/p95 duration (from the run history, else the tasks table).',
        querystring: StatsQuery,
        response: { 200: AgentStatsSchema, 400: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query;
      return agentStats(ctx.db, { window: q.window, keys: q.keys, source: q.source, ...(q.dimension ? { dimensions: q.dimension } : {}) });
    },
  );
}
