/**
 * `seedcore worker`: a Dispatcher process. JSON log lines on stderr (pino). SIGTERM / SIGINT
 * drain: stop claiming, hand prefetched tasks back, let running handlers finish within the
 * grace period, then interrupt and hand back the rest, leave the registry, exit 0. A second
 * signal exits at once (leases expire and other workers recover the tasks).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import pino from 'pino';
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { ORGAN_FLAGS, organFromText } from '../agents/organs.js';
import { builtinHandlers } from '../handlers.js';
import type { HandlerMap, TaskLogger } from '../tasks/types.js';
import { createWorker, type Worker } from '../worker/compose.js';
import { openDb, parseIntOption } from './context.js';

function parseSeconds(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw invalidInput(`${name} must be a positive number of seconds (got '${v}')`);
    return n;
  };
}

/** Load a handler module: default export or named `handlers`, a map or a function (db) => map. */
export async function loadHandlers(path: string, db: Db): Promise<HandlerMap> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (e) {
    throw invalidInput(`could not load handlers from ${path}: ${(e as Error).message}`);
  }
  let exported = mod.default ?? mod.handlers;
  if (typeof exported === 'function') exported = await (exported as (db: Db) => unknown)(db);
  if (typeof exported !== 'object' || exported === null)
    throw invalidInput(`${path} must export (default or 'handlers') an object mapping task type to an async function`);
  for (const [type, fn] of Object.entries(exported)) if (typeof fn !== 'function') throw invalidInput(`${path}: handler '${type}' is not a function`);
  return exported as HandlerMap;
}

interface WorkerOptions {
  handlers?: string;
  concurrency: number;
  prefetch?: number;
  types?: string;
  leaseSeconds: number;
  heartbeatSeconds?: number;
  maxAttempts: number;
  pollMs: number;
  graceSeconds: number;
  ownerId?: string;
  registry: boolean;
  logicalId: string;
  queues: string;
  agingSeconds: number;
  schedules: boolean;
  organ?: string;
  agent?: string;
  capabilities?: string;
  skills?: string;
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a dispatcher: claim and execute tasks until SIGTERM/SIGINT (then drain and exit 0)')
    .option('--handlers <path>', 'ES module exporting (default or `handlers`) { type: async (task, ctx) => result }; merged over the built-ins')
    .option('--concurrency <n>', 'handlers running at once', parseIntOption('--concurrency', 1, 10_000), 8)
    .option('--prefetch <n>', 'tasks claimed ahead of free slots (default: concurrency)', parseIntOption('--prefetch', 0, 100_000))
    .option('--queues <a,b>', 'serve these named queues (tasks.queue)', 'default')
    .option('--aging-seconds <n>', 'seconds of waiting that raise a task one priority level (0 = strict priority)', parseIntOption('--aging-seconds', 0), 300)
    .option('--no-schedules', 'do not fire cron schedules (task_schedules) from this worker')
    .option('--types <a,b>', 'claim only these task types (default: every type with a handler)')
    .option('--lease-seconds <s>', 'lease length; an unrenewed running task is recovered after it', parseSeconds('--lease-seconds'), 30)
    .option(
      '--heartbeat-seconds <s>',
      'lease renewal interval (a cancel reaches the handler within it; default: a third of the lease, at most 5)',
      parseSeconds('--heartbeat-seconds'),
    )
    .option('--max-attempts <n>', 'executions per task before it fails', parseIntOption('--max-attempts', 1, 1000), 3)
    .option('--poll-ms <ms>', 'poll interval besides LISTEN/NOTIFY', parseIntOption('--poll-ms', 5, 3_600_000), 1000)
    .option('--grace-seconds <s>', 'on SIGTERM, how long running handlers may finish', parseSeconds('--grace-seconds'), 10)
    .option('--owner-id <id>', 'owner id written to claimed tasks (default: registry instance id, or host:pid:random)')
    .option('--logical-id <id>', 'registry logical id this worker registers under (an organ: its organ id)', 'dispatcher')
    .option('--no-registry', 'do not register in the runtime registry (tasks are then recovered by lease expiry only)')
    .option('--organ <id>', 'serve as this organ: register it, join the registry under the organ id, advertise what it provides')
    .option('--agent <id>', 'with --organ: the agent the organ belongs to')
    .option('--capabilities <name@version,…>', 'with --organ: capabilities provided, each at a dotted-number version (summarize@2,embed@1.4.0)')
    .option('--skills <a,b>', 'with --organ: skills provided')
    .action(async (opts: WorkerOptions, cmd: Command) => {
      const log = pino({ base: { pid: process.pid, cmd: 'worker' } }, pino.destination(2));
      const logger: TaskLogger = {
        info: (msg, f) => log.info(f ?? {}, msg),
        warn: (msg, f) => log.warn(f ?? {}, msg),
        error: (msg, f) => log.error(f ?? {}, msg),
      };
      const organ = organFromText(opts, ORGAN_FLAGS);
      // Flag combinations are checked before the database is opened.
      if (organ && (!opts.registry || opts.ownerId !== undefined))
        throw invalidInput('--organ: an organ worker claims as its registry instance; it cannot be combined with --no-registry or --owner-id', {
          field: '--organ',
        });
      // An organ registers under its organ id; a different explicit --logical-id would be ignored, so it is refused.
      const logicalIdSource = cmd.getOptionValueSource('logicalId');
      if (organ && logicalIdSource !== undefined && logicalIdSource !== 'default' && opts.logicalId !== organ.id)
        throw invalidInput(
          `--logical-id '${opts.logicalId}' with --organ '${organ.id}': an organ worker registers under its organ id; leave --logical-id out or give the organ id`,
          { field: '--logical-id' },
        );
      const db = await openDb(cmd, { poolSize: 6 });
      let worker: Worker | undefined;
      try {
        const handlers = opts.handlers ? await loadHandlers(opts.handlers, db) : {};
        const types = opts.types
          ?.split(',')
          .map((t) => t.trim())
          .filter(Boolean);
        // Every option is validated when the worker is built, before anything is written (the registry row included).
        worker = createWorker(db, {
          builtins: true,
          handlers,
          ...(types ? { types } : {}),
          queues: opts.queues
            .split(',')
            .map((q) => q.trim())
            .filter(Boolean),
          agingSeconds: opts.agingSeconds,
          schedules: opts.schedules,
          concurrency: opts.concurrency,
          ...(opts.prefetch !== undefined ? { prefetch: opts.prefetch } : {}),
          leaseSeconds: opts.leaseSeconds,
          ...(opts.heartbeatSeconds !== undefined ? { heartbeatSeconds: opts.heartbeatSeconds } : {}),
          maxAttempts: opts.maxAttempts,
          pollIntervalMs: opts.pollMs,
          logger,
          ...(opts.ownerId !== undefined ? { ownerId: opts.ownerId } : {}),
          registry: opts.registry && opts.ownerId === undefined ? { logicalId: organ?.id ?? opts.logicalId, actorName: 'worker' } : false,
          ...(organ ? { organ } : {}),
          onEvent: (e) => {
            if (e.kind === 'failed') log.warn({ taskId: e.id, error: e.error, final: e.final }, 'task attempt failed');
            else if (e.kind === 'lost') log.warn({ taskId: e.id, reason: e.reason }, 'task lost');
          },
        });
        await worker.start();
        log.info(
          {
            database: db.description,
            ownerId: worker.ownerId,
            types: types ?? Object.keys({ ...builtinHandlers(db), ...handlers }),
            ...(organ ? { organ: organ.id } : {}),
          },
          'worker ready',
        );
        await new Promise<void>((resolveSignal) => {
          let signalled = false;
          const onSignal = (sig: NodeJS.Signals): void => {
            if (signalled) {
              log.warn({ signal: sig }, 'second signal: exiting without draining');
              process.exit(1);
            }
            signalled = true;
            log.info({ signal: sig, graceSeconds: opts.graceSeconds }, 'draining');
            resolveSignal();
          };
          process.on('SIGTERM', onSignal);
          process.on('SIGINT', onSignal);
        });
        await worker.stop({ graceMs: opts.graceSeconds * 1000 });
      } catch (e) {
        await worker?.stop({ graceMs: 0 }).catch((err: unknown) => log.warn({ err: String(err) }, 'worker stop failed'));
        throw e;
      } finally {
        await db.close();
      }
      log.info('worker stopped');
      log.flush();
      process.exitCode = 0;
    });
}
