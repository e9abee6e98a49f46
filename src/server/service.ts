/**
 * The whole service in one call: open the database (migrating it), load demo data into an
 * empty database, start the HTTP server, and run the in-process background work (dispatcher,
 * registry heartbeat and reconciler) when those libraries are present. `stop()` shuts down
 * in order — background work, HTTP server, database — within a time limit.
 */
import type { FastifyServerOptions } from 'fastify';
import { organFromEnvironment, validateOrgan } from '../agents/organs.js';
import { SeedCoreError, invalidInput } from '../errors.js';
import { openSeedCore, type SeedCore } from '../seedcore.js';
import type { OrganOptions } from '../tasks/dispatcher-options.js';
import { isEmptyDatabase, loadDemoData, type DemoSummary } from '../demo/load.js';
import { buildServer, type SeedCoreServer } from './app.js';
import { envMaxAge } from './metrics.js';
import { startBackground, type Background } from './background.js';

export interface ServiceOptions {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  /** A direct URL for LISTEN when databaseUrl is a pooler. @defaultValue process.env.SEEDCORE_LISTEN_URL */
  listenUrl?: string | undefined;
  /** @defaultValue process.env.PORT ?? 8080 (0 picks a free port) */
  port?: number;
  /** @defaultValue process.env.HOST ?? '127.0.0.1' */
  host?: string;
  /** Load demo data when the database is empty. @defaultValue true */
  demo?: boolean;
  apiToken?: string | undefined;
  logger?: FastifyServerOptions['logger'];
  /** Run the dispatcher and registry heartbeat in this process. @defaultValue true */
  background?: boolean;
  eventsTickMs?: number;
  /** One log line per request at info (else debug). @defaultValue process.env.SEEDCORE_LOG_REQUESTS === '1' */
  logRequests?: boolean;
  /**
   * Run the embedded worker as this organ (registered under the organ id, with its agent,
   * capabilities and skills); null: a plain worker. Validated before the database is opened.
   * @defaultValue from SEEDCORE_ORGAN, SEEDCORE_ORGAN_AGENT, SEEDCORE_ORGAN_CAPABILITIES, SEEDCORE_ORGAN_SKILLS
   */
  organ?: OrganOptions | null;
  /** Called once the server listens, before background work starts (serve prints the URL here). */
  onListening?: (url: string) => void;
}

export interface RunningService {
  url: string;
  server: SeedCoreServer;
  core: SeedCore;
  demo: DemoSummary | null;
  background: Background;
  /** The database is a read-only standby: serving reads only (no demo data, no background work). */
  standby: boolean;
  /** The organ the embedded worker serves (null: none, or no background work). */
  organ: string | null;
  /** Stop everything; resolves when the database is closed. */
  stop(): Promise<void>;
}

/** PORT from the environment (default 8080), checked like --port. */
function envPort(): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return 8080;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw invalidInput(`PORT must be an integer between 0 and 65535 (got '${raw}')`);
  return n;
}

export async function startService(options: ServiceOptions = {}): Promise<RunningService> {
  // Check the address and the metrics setting before opening (and perhaps migrating) the database.
  const port = options.port ?? envPort();
  const host = options.host ?? process.env.HOST ?? '127.0.0.1';
  envMaxAge();
  // So is the organ (flags or SEEDCORE_ORGAN*): a bad one is refused before anything is written.
  const organ = options.organ === undefined ? organFromEnvironment() : options.organ === null ? undefined : options.organ;
  if (organ !== undefined) {
    validateOrgan(organ);
    if (options.background === false)
      throw invalidInput(`organ '${organ.id}': the embedded worker serves the organ, and background work is off (--no-background)`, { field: 'organ' });
  }
  const core = await openSeedCore({
    databaseUrl: options.databaseUrl,
    dataDir: options.dataDir,
    applicationName: 'seedcore-serve',
    ...(options.listenUrl !== undefined ? { listenUrl: options.listenUrl } : {}),
  });
  let server: SeedCoreServer | undefined;
  let background: Background | undefined;
  try {
    // A standby serves reads; it can neither load demo data nor run workers or a heartbeat.
    const standby = await core.db.isStandby();
    let demo: DemoSummary | null = null;
    if (!standby && options.demo !== false && (await isEmptyDatabase(core.db))) demo = await loadDemoData(core.db);
    server = await buildServer({
      core,
      apiToken: options.apiToken,
      logger: options.logger ?? false,
      ...(options.eventsTickMs !== undefined ? { eventsTickMs: options.eventsTickMs } : {}),
      ...(options.logRequests !== undefined ? { logRequests: options.logRequests } : {}),
    });
    const app = server.app;
    // Fastify logs its own "Server listening" line; keep stdout's first line ours (see serve).
    const level = app.log.level;
    app.log.level = 'warn';
    try {
      await app.listen({ port, host });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
        throw new SeedCoreError(
          'SEEDCORE_UNAVAILABLE',
          code === 'EADDRINUSE'
            ? `port ${port} on ${host} is already in use; stop the other server or choose --port / PORT`
            : `cannot listen on ${host}:${port} (${code}); choose another --host / --port`,
          { cause: e, details: { host, port } },
        );
      throw e;
    }
    app.log.level = level;
    const address = app.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    options.onListening?.(url);
    if (standby) app.log.warn('the database is a read-only standby: serving reads only, no dispatcher or registry heartbeat');
    background =
      options.background === false || standby
        ? { features: [], stop: async () => {} }
        : await startBackground(core, server.metrics, url, app.log, organ ? { organ } : {});
    const bg = background;
    const srv = server;
    let stopping: Promise<void> | undefined;
    return {
      url,
      server,
      core,
      demo,
      background,
      standby,
      organ: organ !== undefined && background.features.includes('dispatcher') ? organ.id : null,
      stop() {
        stopping ??= (async () => {
          try {
            await bg.stop();
          } finally {
            try {
              await srv.app.close();
            } finally {
              await core.close();
            }
          }
        })();
        return stopping;
      },
    };
  } catch (e) {
    await background?.stop().catch(() => undefined);
    await server?.app.close().catch(() => undefined);
    await core.close();
    throw e;
  }
}
