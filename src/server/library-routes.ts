/**
 * Route groups backed by the task, facts, graph and embeddings libraries. A group is
 * registered only when its library is present on the SeedCore facade: a route must never
 * pretend to work.
 */
import type { FastifyInstance } from 'fastify';
import type { SeedCore } from '../seedcore.js';
import type { ServerContext } from './context.js';
import { registerFactRoutes } from './routes/facts.js';
import { registerGraphRoutes } from './routes/graph.js';
import { registerSchedulingRoutes } from './routes/scheduling.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { registerTaskRunRoutes } from './routes/task-runs.js';

export interface Features {
  tasks: boolean;
  facts: boolean;
  graph: boolean;
  embeddings: boolean;
}

export function wiredFeatures(core: SeedCore): Features {
  const has = (k: string) => typeof (core as unknown as Record<string, unknown>)[k] === 'object';
  // facts: src/facts exports plain functions over a Queryable, used directly.
  return { tasks: has('tasks'), facts: true, graph: has('graph'), embeddings: has('embeddings') };
}

export function registerLibraryRoutes(app: FastifyInstance, ctx: ServerContext, features: Features): void {
  if (features.tasks) registerTaskRoutes(app, ctx);
  if (features.tasks) registerSchedulingRoutes(app, ctx);
  if (features.tasks) registerTaskRunRoutes(app, ctx);
  if (features.facts) registerFactRoutes(app, ctx);
  if (features.graph && features.embeddings) registerGraphRoutes(app, ctx);
}
