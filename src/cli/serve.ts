import type { Command } from 'commander';
import { ORGAN_FLAGS, organFromText } from '../agents/organs.js';
import { startService } from '../server/service.js';
import { globalOptions, parseIntOption } from './context.js';

interface ServeOptions {
  port?: number;
  host?: string;
  demo: boolean;
  background: boolean;
  logRequests?: boolean;
  organ?: string;
  agent?: string;
  capabilities?: string;
  skills?: string;
}

/** How long a SIGTERM/SIGINT shutdown may take before the process exits anyway. */
const SHUTDOWN_LIMIT_MS = 9_000;

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API, the dashboard, an in-process dispatcher and the registry heartbeat; loads demo data into an empty database')
    .option('--port <n>', 'TCP port, 0 = any free port (default: $PORT or 8080)', parseIntOption('--port', 0, 65535))
    .option('--host <addr>', 'address to bind (default: $HOST or 127.0.0.1)')
    .option('--no-demo', 'do not load demo data into an empty database')
    .option('--no-background', 'serve only: run no dispatcher or registry heartbeat in this process')
    .option('--log-requests', 'log one line per request at info (default: at debug; or SEEDCORE_LOG_REQUESTS=1)')
    .option('--organ <id>', 'the embedded worker serves as this organ (default: $SEEDCORE_ORGAN), as `seedcore worker --organ`')
    .option('--agent <id>', 'with --organ: the agent the organ belongs to')
    .option('--capabilities <name@version,…>', 'with --organ: capabilities provided, each at a dotted-number version (summarize@2,embed@1.4.0)')
    .option('--skills <a,b>', 'with --organ: skills provided')
    .addHelpText(
      'after',
      `
Environment:
  DATABASE_URL        PostgreSQL server (else the embedded database in --data-dir / SEEDCORE_DATA_DIR);
                      a transaction-mode pooler (PgBouncer) works with nothing else set
  SEEDCORE_LISTEN_URL direct connection for LISTEN when DATABASE_URL is a pooler (else: polling)
  SEEDCORE_PREPARED_STATEMENTS=on  named prepared statements (direct connections only; off)
  SEEDCORE_QUERY_TIMEOUT_MS, SEEDCORE_CONNECT_TIMEOUT_MS, SEEDCORE_KEEPALIVE_MS,
  SEEDCORE_STATEMENT_TIMEOUT_MS    timeouts and TCP keepalive (60000, 10000, 10000, off)
  PORT, HOST          where to listen (8080, 127.0.0.1)
  SEEDCORE_API_TOKEN  require "Authorization: Bearer <token>" on /api routes
  LOG_LEVEL           pino level for the JSON logs on stdout (info)
  SEEDCORE_LOG_REQUESTS=1   one log line per request at info (like --log-requests)
  SEEDCORE_ALLOWED_HOSTS    without a token: host names besides loopback the API answers for
  SEEDCORE_ORGAN, SEEDCORE_ORGAN_AGENT, SEEDCORE_ORGAN_CAPABILITIES, SEEDCORE_ORGAN_SKILLS
                      the embedded worker as an organ (like --organ, --agent, --capabilities,
                      --skills; the flags, when --organ is given, replace all four)

The first line on stdout is "SeedCore listening on <url>"; JSON logs follow.
SIGTERM or SIGINT stops the dispatcher, deregisters, closes the server and the database.
On a read-only standby it serves reads only (no demo data, dispatcher or heartbeat).`,
    )
    .action(async (opts: ServeOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      // The organ flags are parsed as the worker's are, before anything is opened; without
      // --organ the service reads SEEDCORE_ORGAN* (and --agent and the others alone are refused).
      const organ = organFromText(opts, ORGAN_FLAGS);
      // One signal handler for the process's whole life. A signal while starting (e.g. a
      // process manager stopping us right away) is noted and acted on once started, so the
      // port and data-directory lock are released; starting may not take forever after it.
      // (Swapping handlers instead could drop a signal that arrived but was not dispatched yet:
      // the embedded database resolves queries without returning to the event loop.)
      let early: NodeJS.Signals | undefined;
      let onStopSignal: ((signal: NodeJS.Signals) => void) | undefined;
      const handler = (signal: NodeJS.Signals): void => {
        if (onStopSignal) return onStopSignal(signal);
        if (early) return;
        early = signal;
        setTimeout(() => {
          process.stderr.write(`${signal} while starting and the start took too long; exiting\n`);
          process.exit(1);
        }, SHUTDOWN_LIMIT_MS).unref();
      };
      process.on('SIGTERM', handler);
      process.on('SIGINT', handler);
      const started = startService({
        databaseUrl: g.databaseUrl,
        dataDir: g.dataDir,
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        demo: opts.demo,
        background: opts.background,
        logger: { level: process.env.LOG_LEVEL ?? 'info' },
        ...(opts.logRequests ? { logRequests: true } : {}),
        ...(organ ? { organ } : {}),
        onListening: (url) => process.stdout.write(`SeedCore listening on ${url}\n`),
      });
      const service = await started;
      const log = service.server.app.log;
      log.info(
        {
          url: service.url,
          database: service.core.db.description,
          backend: service.core.db.kind,
          demo: service.demo,
          standby: service.standby,
          ...(service.organ !== null ? { organ: service.organ } : {}),
          background: service.background.features,
          routes: service.server.features,
        },
        'seedcore serve started',
      );

      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (signal: NodeJS.Signals) => {
          // Later signals while stopping change nothing: the shutdown limit below still holds.
          if (stopping) return;
          stopping = true;
          log.info({ signal }, 'shutting down');
          const timer = setTimeout(() => {
            log.error('shutdown took too long; exiting');
            process.exit(1);
          }, SHUTDOWN_LIMIT_MS);
          timer.unref();
          service
            .stop()
            .then(() => {
              log.info('stopped');
              process.exitCode = 0;
            })
            .catch((e: unknown) => {
              log.error({ err: e }, 'error during shutdown');
              process.exitCode = 1;
            })
            .finally(resolve);
        };
        onStopSignal = onSignal;
        if (early) onSignal(early);
      });
    });
}
