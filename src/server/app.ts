/**
 * The HTTP server: Fastify with TypeBox schemas on every route (validation + the OpenAPI
 * document at /openapi.json, an interactive page at /docs), one error shape, optional bearer
 * auth on /api, Prometheus metrics and the dashboard. `buildServer` does not listen; callers
 * use `app.listen()` or `app.inject()`.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { SeedCore } from '../seedcore.js';
import { apiAuthHook } from './auth.js';
import type { ServerContext } from './context.js';
import { registerDashboard } from './dashboard-assets.js';
import { EventHub } from './events.js';
import { clientErrorHandler, frameworkErrors, redactSecrets, sameOriginHook } from './edges.js';
import { ErrorBody, errorHandler, notFoundHandler } from './http-errors.js';
import { createMetrics } from './metrics.js';
import { registerLibraryRoutes, wiredFeatures, type Features } from './library-routes.js';
import { registerGraphTaskRoutes } from './routes/graph-tasks.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerOverviewRoutes } from './routes/overview.js';
import { registerAgentRoutes } from './routes/agents.js';
import { registerRegistryRoutes } from './routes/registry.js';
import { registerCapabilityRoutes } from './routes/capabilities.js';
import { typeboxValidatorCompiler } from './validation.js';
import { TaskSchema } from '../tasks/rows.js';
import { TaskInputSchema } from '../tasks/validate.js';
import { QueueLimitSchema, QueueSchema } from '../tasks/queues.js';
import { ScheduleInputSchema, ScheduleSchema } from '../tasks/schedules.js';
import { FactInputSchema, FactPatchSchema, FactSchema } from '../facts/schemas.js';
import { EdgeInputSchema, GraphEdgeSchema, GraphNodeSchema, NodeInputSchema, NodePatchSchema } from '../graph/schema.js';

export interface ServerOptions {
  /** The SeedCore facade whose APIs the routes expose (its database is used for reads). */
  core: SeedCore;
  /** Require `Authorization: Bearer <token>` on /api routes. @defaultValue process.env.SEEDCORE_API_TOKEN */
  apiToken?: string | undefined;
  /** Fastify/pino logger options; `false` silences it. @defaultValue false */
  logger?: LoggerOption;
  /** Largest accepted request body in bytes (413 above it). @defaultValue 1 MiB */
  bodyLimit?: number;
  /**
   * Period of the event stream's overview tick in ms. Completions send no notification, so this
   * bounds how late an open dashboard shows one; the tick runs only while a stream is open.
   * @defaultValue 500
   */
  eventsTickMs?: number;
  /**
   * Log one line per request at info (else at debug, so an idle dashboard stays quiet).
   * @defaultValue process.env.SEEDCORE_LOG_REQUESTS === '1'
   */
  logRequests?: boolean;
  /**
   * Host names (besides loopback) a server without a token answers /api requests for.
   * @defaultValue process.env.SEEDCORE_ALLOWED_HOSTS (comma-separated)
   */
  allowedHosts?: readonly string[];
  /** Most simultaneous connections. @defaultValue 1000 */
  maxConnections?: number;
  /** Time allowed for a request's headers, and for the whole request to arrive, in ms. @defaultValue 10000, 30000 */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface SeedCoreServer {
  app: FastifyInstance;
  metrics: ServerContext['metrics'];
  /** Which library-backed route groups are registered (missing libraries are not). */
  features: Features;
}

/**
 * What `logger` may be: Fastify's option without the `undefined` that indexing an optional
 * property adds (Fastify's own option does not accept an explicit undefined).
 */
type LoggerOption = Exclude<FastifyServerOptions['logger'], undefined>;

/**
 * The event stream accepts ?token=; keep it (however percent-encoded) and any other secret
 * query value out of the request logs. Applies when the logger is given as options (an
 * object), e.g. by `seedcore serve`.
 */
function withRedactedUrls(logger: LoggerOption): LoggerOption {
  if (typeof logger !== 'object' || logger === null) return logger;
  return {
    ...logger,
    serializers: {
      // Applied to whatever is logged under `req`, so each field may be missing; a missing
      // one is left out (Fastify's type for the result has optional, not undefined, fields).
      req: (req: { method?: string; url?: string; host?: string; ip?: string }) => ({
        ...(req.method !== undefined && { method: req.method }),
        ...(req.url !== undefined && { url: redactSecrets(req.url) }),
        ...(req.host !== undefined && { host: req.host }),
        ...(req.ip !== undefined && { remoteAddress: req.ip }),
      }),
      // Connection strings logged by serve and the background work keep no password.
      database: (v: unknown) => (typeof v === 'string' ? redactSecrets(v) : v),
      databaseUrl: (v: unknown) => (typeof v === 'string' ? redactSecrets(v) : v),
      ...(logger.serializers ?? {}),
    },
  };
}

export async function buildServer(options: ServerOptions): Promise<SeedCoreServer> {
  const app = Fastify({
    logger: withRedactedUrls(options.logger ?? false),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Names may be 200 characters; percent-encoded UTF-8 takes up to 12 bytes per character.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2400 },
    frameworkErrors,
    clientErrorHandler,
    // Slow clients cannot hold sockets forever: idle sockets close after 2 minutes (the event
    // stream writes every eventsTickMs), a request must arrive within requestTimeoutMs.
    connectionTimeout: 120_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    keepAliveTimeout: 5_000,
    // Fastify's two lines per request are replaced by one (onResponse below).
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.server.headersTimeout = options.headersTimeoutMs ?? 10_000;
  app.server.maxConnections = options.maxConnections ?? 1000;
  const token = options.apiToken ?? process.env.SEEDCORE_API_TOKEN ?? undefined;
  const logRequests = options.logRequests ?? process.env.SEEDCORE_LOG_REQUESTS === '1';
  const allowedHosts =
    options.allowedHosts ??
    (process.env.SEEDCORE_ALLOWED_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
  const metrics = createMetrics(options.core.db);
  const events = new EventHub(options.core.db, app.log, options.eventsTickMs ?? 500);
  let shuttingDown = false;
  const features = wiredFeatures(options.core);
  const ctx: ServerContext = { core: options.core, db: options.core.db, metrics, events, features, shuttingDown: () => shuttingDown };

  app.setValidatorCompiler(typeboxValidatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addSchema(ErrorBody);
  app.addHook('onRequest', apiAuthHook(token || undefined));
  app.addHook('onRequest', sameOriginHook({ token: token || undefined, allowedHosts }));
  // HEAD of the event stream: its headers, no stream (the GET handler would never end).
  app.addHook('onRequest', async (request, reply) => {
    if (request.method === 'HEAD' && request.url.split('?')[0] === '/api/events')
      await reply.status(200).header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-cache, no-transform').send();
  });
  app.addHook('onResponse', async (request, reply) => {
    const line = { method: request.method, url: redactSecrets(request.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (logRequests) request.log.info(line, 'request');
    else request.log.debug(line, 'request');
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  app.addHook('onReady', async () => events.start());
  // preClose runs before the server stops accepting: end the long-lived event streams so
  // close() does not wait for them.
  app.addHook('preClose', async () => {
    shuttingDown = true;
    await events.stop();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'SeedCore API',
        version: '0.1.0',
        description:
          'Tasks, queues, schedules, graph tasks, facts, graph, embeddings and the runtime registry. Errors are always {"error": {"code", "message"}}. When SEEDCORE_API_TOKEN is set, /api routes need Authorization: Bearer <token>.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        // The library's own schemas, named: what GET /api/tasks/:id returns and POST /api/tasks takes.
        schemas: {
          Task: TaskSchema,
          TaskInput: TaskInputSchema,
          Schedule: ScheduleSchema,
          ScheduleInput: ScheduleInputSchema,
          Queue: QueueSchema,
          QueueLimit: QueueLimitSchema,
          Fact: FactSchema,
          FactInput: FactInputSchema,
          FactPatch: FactPatchSchema,
          GraphNode: GraphNodeSchema,
          GraphNodeInput: NodeInputSchema,
          GraphNodePatch: NodePatchSchema,
          GraphEdge: GraphEdgeSchema,
          GraphEdgeInput: EdgeInputSchema,
        } as unknown as Record<string, never>,
      },
      security: token ? [{ bearer: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerHealthRoutes(app, ctx);
  registerOverviewRoutes(app, ctx);
  registerGraphTaskRoutes(app, ctx);
  registerRegistryRoutes(app, ctx);
  registerCapabilityRoutes(app, ctx);
  registerLibraryRoutes(app, ctx, features);
  registerAgentRoutes(app, ctx);
  registerDashboard(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return { app, metrics, features };
}
