/** `seedcore submit` and `seedcore tasks list|get|cancel|retry|stats|cleanup-stale`; also registers `worker`. */
import type { Command } from 'commander';
import { invalidInput } from '../errors.js';
import { TaskCoordinator } from '../tasks/coordinator.js';
import type { TaskRow } from '../tasks/rows.js';
import { TASK_STATUSES, type TaskStatus } from '../tasks/types.js';
import type { SubmitTaskInput } from '../tasks/validate.js';
import { openDb, output, parseIntOption, parseJsonOption } from './context.js';
import { registerWorkerCommand } from './worker.js';

function iso(d: Date | null): string {
  return d ? d.toISOString() : '-';
}

function oneLine(t: TaskRow): string {
  const err = t.error ? `  ${t.error.replace(/\s+/g, ' ').slice(0, 60)}` : '';
  return `${t.id}  ${t.status.padEnd(9)} ${t.type.padEnd(18)} attempts=${t.attempts}  ${iso(t.created_at)}${err}`;
}

function details(t: TaskRow): string {
  const lines = [
    `id          ${t.id}`,
    `status      ${t.status}`,
    `type        ${t.type}`,
    `attempts    ${t.attempts}`,
    `description ${t.description ?? '-'}`,
    `domain      ${t.domain ?? '-'}`,
    `drift_score ${t.drift_score}`,
    `params      ${JSON.stringify(t.params)}`,
    `run_after   ${iso(t.run_after)}`,
    `owner_id    ${t.owner_id ?? '-'}`,
    `lease until ${iso(t.lease_expires_at)}`,
    `heartbeat   ${iso(t.last_heartbeat)}`,
    `created_at  ${iso(t.created_at)}`,
    `updated_at  ${iso(t.updated_at)}`,
    `result      ${t.result === null || t.result === undefined ? '-' : JSON.stringify(t.result)}`,
    `error       ${t.error ?? '-'}`,
  ];
  return lines.join('\n');
}

function list(v: string | undefined): string[] | undefined {
  return v
    ?.split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

async function withCoordinator<T>(cmd: Command, fn: (c: TaskCoordinator) => Promise<T>): Promise<T> {
  const db = await openDb(cmd);
  try {
    return await fn(new TaskCoordinator(db));
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
    .option('--organ-id <id>', 'executing organ (task_executed_by_organ)')
    .action(
      async (
        type: string,
        o: {
          params: string;
          description?: string;
          domain?: string;
          driftScore?: string;
          dependsOn?: string;
          runAfter?: string;
          agentId?: string;
          organId?: string;
        },
        cmd: Command,
      ) => {
        const params = parseJsonOption('--params', o.params);
        const drift = o.driftScore === undefined ? undefined : Number(o.driftScore);
        if (drift !== undefined && !Number.isFinite(drift)) throw invalidInput(`--drift-score must be a number (got '${o.driftScore}')`);
        const row = await withCoordinator(cmd, async (c) => {
          const deps = await Promise.all((list(o.dependsOn) ?? []).map((d) => c.resolveId(d)));
          const input: SubmitTaskInput = { type, params: params as Record<string, unknown> };
          if (o.description !== undefined) input.description = o.description;
          if (o.domain !== undefined) input.domain = o.domain;
          if (drift !== undefined) input.drift_score = drift;
          if (deps.length > 0) input.dependsOn = deps;
          if (o.runAfter !== undefined) input.run_after = o.runAfter;
          if (o.agentId !== undefined) input.agentId = o.agentId;
          if (o.organId !== undefined) input.organId = o.organId;
          return c.submit(input);
        });
        output(cmd, row, () => row.id);
      },
    );

  const tasks = program.command('tasks').description('inspect and manage tasks');

  tasks
    .command('list')
    .description('list tasks, newest first (keyset pagination: pass --cursor from the previous page)')
    .option('--status <s,…>', `filter by status (${TASK_STATUSES.join(', ')})`)
    .option('--type <type>', 'filter by type')
    .option('--domain <domain>', 'filter by domain')
    .option('--limit <n>', 'page size', parseIntOption('--limit', 1, 1000), 50)
    .option('--cursor <c>', 'continue after this cursor')
    .action(async (o: { status?: string; type?: string; domain?: string; limit: number; cursor?: string }, cmd: Command) => {
      const page = await withCoordinator(cmd, (c) =>
        c.list({
          ...(o.status ? { status: list(o.status) as TaskStatus[] } : {}),
          ...(o.type ? { type: o.type } : {}),
          ...(o.domain ? { domain: o.domain } : {}),
          limit: o.limit,
          ...(o.cursor ? { cursor: o.cursor } : {}),
        }),
      );
      output(cmd, page, () => [...page.tasks.map(oneLine), ...(page.nextCursor ? [`-- more: --cursor ${page.nextCursor}`] : [])].join('\n') || '(no tasks)');
    });

  tasks
    .command('get <id>')
    .description('show one task (full id or a unique prefix of at least 4 characters)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const row = await withCoordinator(cmd, (c) => c.get(id));
      output(cmd, row, () => details(row));
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
