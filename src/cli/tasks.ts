/** `seedcore submit` and `seedcore tasks list|get|cancel|retry|stats|cleanup-stale`; also registers `worker`. */
import type { Command } from 'commander';
import { invalidInput } from '../errors.js';
import { TaskCoordinator } from '../tasks/coordinator.js';
import { TASK_COLUMN_NAMES, TASK_COLUMNS, type TaskRow } from '../tasks/rows.js';
import { TASK_PRIORITIES, TASK_STATUSES, type TaskPriority, type TaskStatus } from '../tasks/types.js';
import type { SubmitTaskInput } from '../tasks/validate.js';
import { openDb, output, parseIntOption, parseJsonOption } from './context.js';
import { registerWorkerCommand } from './worker.js';
import { registerTaskEventCommands } from './task-events.js';
import { durableLines } from '../tasks/durable/inspect.js';
import { unroutableTaskIds, withUnroutable, type Unroutable } from '../agents/routing.js';
import type { Db } from '../db/types.js';

const missingLine = (u: Unroutable): string => (u === null ? '' : `  unroutable, missing: ${u.missing.join(', ')}`);

function iso(d: Date | null): string {
  return d ? d.toISOString() : '-';
}

function oneLine(t: TaskRow): string {
  const err = t.error ? `  ${t.error.replace(/\s+/g, ' ').slice(0, 60)}` : '';
  return `${t.id}  ${t.status.padEnd(9)} ${t.type.padEnd(18)} ${t.queue}/${t.priority}  attempts=${t.attempts}  ${iso(t.created_at)}${err}`;
}

function shown(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Every column of the row (TASK_COLUMN_NAMES), one per line, so a new column shows up here too. */
function details(t: TaskRow): string {
  const row = t as unknown as Record<string, unknown>;
  const width = Math.max(...TASK_COLUMN_NAMES.map((c) => c.length)) + 1;
  return TASK_COLUMN_NAMES.map(
    (c) => `${c.padEnd(width)} ${c === 'attempts' && t.max_attempts !== null ? `${t.attempts}/${t.max_attempts}` : shown(row[c])}`,
  ).join('\n');
}

function list(v: string | undefined): string[] | undefined {
  return v
    ?.split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

interface SubmitOptions {
  params: string;
  description?: string;
  domain?: string;
  driftScore?: string;
  dependsOn?: string;
  runAfter?: string;
  agentId?: string;
  organId?: string;
  requires?: string;
  priority?: string;
  queue?: string;
  maxAttempts?: number;
  timeoutSeconds?: string;
  dedupKey?: string;
  expiresAt?: string;
  id?: string;
}

function numberOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw invalidInput(`${name} must be a number (got '${v}')`, { path: name, expected: 'a number', got: v });
  return n;
}

/** The options of `seedcore submit` as a task input; the library validates every field. */
export function submitInput(type: string, o: SubmitOptions, deps: string[]): SubmitTaskInput {
  const input: SubmitTaskInput = { type, params: parseJsonOption('--params', o.params) as Record<string, unknown> };
  const drift = numberOption('--drift-score', o.driftScore);
  const timeout = numberOption('--timeout-seconds', o.timeoutSeconds);
  if (o.id !== undefined) input.id = o.id;
  if (o.description !== undefined) input.description = o.description;
  if (o.domain !== undefined) input.domain = o.domain;
  if (drift !== undefined) input.drift_score = drift;
  if (deps.length > 0) input.dependsOn = deps;
  if (o.runAfter !== undefined) input.run_after = o.runAfter;
  if (o.agentId !== undefined) input.agentId = o.agentId;
  if (o.organId !== undefined) input.organId = o.organId;
  if (o.requires !== undefined) input.requires = list(o.requires) ?? [];
  if (o.priority !== undefined) input.priority = o.priority as TaskPriority;
  if (o.queue !== undefined) input.queue = o.queue;
  if (o.maxAttempts !== undefined) input.max_attempts = o.maxAttempts;
  if (timeout !== undefined) input.timeout_seconds = timeout;
  if (o.dedupKey !== undefined) input.dedup_key = o.dedupKey;
  if (o.expiresAt !== undefined) input.expires_at = o.expiresAt;
  return input;
}

async function withCoordinator<T>(cmd: Command, fn: (c: TaskCoordinator, db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(cmd);
  try {
    return await fn(new TaskCoordinator(db), db);
  } finally {
    await db.close();
  }
}

export function registerTaskCommands(program: Command): void {
  registerWorkerCommand(program);

  program
    .command('submit <type>')
    .description('submit a task; prints its id (the row with --json)')
    .option('--params <json>', 'handler input, a JSON object', '{}')
    .option('--description <text>', 'description')
    .option('--domain <domain>', 'routing domain')
    .option('--drift-score <x>', 'OCPS drift score (0 fast path, >= 0.5 escalate)')
    .option('--depends-on <ids>', 'comma-separated ids (or unique prefixes) of tasks this one waits for')
    .option('--run-after <iso>', 'not before this time (ISO 8601)')
    .option('--agent-id <id>', 'owning agent (task_owned_by_agent)')
    .option('--organ-id <id>', 'executing organ (task_executed_by_organ); only it claims the task while it is live')
    .option('--requires <constraints>', 'capabilities a claiming organ must provide, comma-separated: name or name>=version (e.g. summarize>=2,embed)')
    .option('--priority <p>', `${TASK_PRIORITIES.join(', ')} (default normal)`)
    .option('--queue <name>', 'named queue (default "default")')
    .option('--max-attempts <n>', "executions allowed (default: the worker's)", parseIntOption('--max-attempts', 1, 1000))
    .option('--timeout-seconds <s>', "handler timeout in seconds (default: the worker's)")
    .option('--dedup-key <key>', 'while a live task holds this key, return that task instead')
    .option('--expires-at <iso>', "not started by then: cancelled with error 'expired'")
    .option('--id <uuid>', 'client-chosen task id')
    .action(async (type: string, o: SubmitOptions, cmd: Command) => {
      const row = await withCoordinator(cmd, async (c) => {
        const deps = await Promise.all((list(o.dependsOn) ?? []).map((d) => c.resolveId(d)));
        return c.submit(submitInput(type, o, deps));
      });
      output(cmd, row, () => row.id);
    });

  const tasks = program.command('tasks').description('inspect and manage tasks');
  registerTaskEventCommands(tasks);

  tasks
    .command('list')
    .description('list tasks, newest first (keyset pagination: pass --cursor from the previous page)')
    .option('--status <s,…>', `filter by status (${TASK_STATUSES.join(', ')})`)
    .option('--type <type>', 'filter by type')
    .option('--domain <domain>', 'filter by domain')
    .option('--limit <n>', 'page size', parseIntOption('--limit', 1, 1000), 50)
    .option('--cursor <c>', 'continue after this cursor')
    .option('--waiting [kind]', 'only suspended durable tasks: any (the default), sleep, event, event:NAME or tasks')
    .option('--unroutable', 'only waiting tasks no live organ can serve, oldest due first, with the capabilities nobody provides')
    .action(async (o: { status?: string; type?: string; domain?: string; limit: number; cursor?: string; waiting?: string | true }, cmd: Command) => {
      if (cmd.opts<{ unroutable?: boolean }>().unroutable) {
        const items = await withCoordinator(cmd, async (_c, db) => {
          const ids = await unroutableTaskIds(db, { limit: o.limit });
          const rows = await db.query<TaskRow>(
            `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ANY($1::uuid[]) ORDER BY coalesce(run_after, created_at), created_at`,
            [ids],
          );
          return withUnroutable(db, rows.rows);
        });
        const page = { items, nextCursor: null };
        output(cmd, page, () => items.map((t) => `${oneLine(t)}${missingLine(t.unroutable)}`).join('\n') || '(no unroutable tasks)');
        return;
      }
      const page = await withCoordinator(cmd, (c) =>
        c.list({
          ...(o.status ? { status: list(o.status) as TaskStatus[] } : {}),
          ...(o.type ? { type: o.type } : {}),
          ...(o.domain ? { domain: o.domain } : {}),
          limit: o.limit,
          ...(o.cursor ? { cursor: o.cursor } : {}),
          ...(o.waiting ? { waiting: o.waiting === true ? 'any' : o.waiting } : {}),
        }),
      );
      output(cmd, page, () => [...page.items.map(oneLine), ...(page.nextCursor ? [`-- more: --cursor ${page.nextCursor}`] : [])].join('\n') || '(no tasks)');
    });

  tasks
    .command('get <id>')
    .description('show one task (full id or a unique prefix of at least 4 characters)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const [row, durable] = await withCoordinator(cmd, async (c, db) => {
        const r = await c.get(id);
        const [routed] = await withUnroutable(db, [r]);
        return [routed as TaskRow & { unroutable: Unroutable }, await c.durable(r.id)] as const;
      });
      const routing = row.unroutable === null ? [] : [`unroutable: missing ${row.unroutable.missing.join(', ')}`];
      output(cmd, { ...row, durable }, () => [details(row), ...routing, ...durableLines(durable)].join('\n'));
    });

  tasks
    .command('cancel <id>')
    .description('cancel a task that has not ended (a running handler is signalled within one heartbeat); dependents are cancelled too')
    .option('--reason <text>', 'recorded in the error column', 'cancelled by request')
    .action(async (id: string, o: { reason: string }, cmd: Command) => {
      const row = await withCoordinator(cmd, (c) => c.cancel(id, o.reason));
      output(cmd, row, () => `${row.id} cancelled`);
    });

  tasks
    .command('retry <id>')
    .description('run a failed or cancelled task again (attempts reset to 0)')
    .option('--run-after <iso>', 'not before this time')
    .action(async (id: string, o: { runAfter?: string }, cmd: Command) => {
      const row = await withCoordinator(cmd, (c) => c.retry(id, o.runAfter ? { runAfter: o.runAfter } : {}));
      output(cmd, row, () => `${row.id} ${row.status}`);
    });

  tasks
    .command('stats')
    .description('task counts by status')
    .action(async (_o: unknown, cmd: Command) => {
      const stats = await withCoordinator(cmd, (c) => c.stats());
      output(cmd, stats, () =>
        Object.entries(stats)
          .map(([k, v]) => `${k.padEnd(10)} ${v}`)
          .join('\n'),
      );
    });

  tasks
    .command('cleanup-stale')
    .description('recover running tasks with an expired lease or no heartbeat (cleanup_stale_running_tasks)')
    .option('--stale-minutes <n>', 'no heartbeat for this long', parseIntOption('--stale-minutes', 0, 10_000_000), 15)
    .option('--max-attempts <n>', 'tasks with this many attempts fail instead of retrying', parseIntOption('--max-attempts', 1, 1000), 3)
    .action(async (o: { staleMinutes: number; maxAttempts: number }, cmd: Command) => {
      const n = await withCoordinator(cmd, (c) => c.cleanupStale({ staleMinutes: o.staleMinutes, maxAttempts: o.maxAttempts }));
      output(cmd, { recovered: n }, () => `${n} task(s) recovered`);
    });
}
