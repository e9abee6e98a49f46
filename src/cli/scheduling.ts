/**
 * CLI for migration 013: `schedules list|set|enable|disable|delete`, `queues list|limit`,
 * `tasks prune`, and `worker --queues` (registered only when no other `worker` command exists).
 */
import type { Command } from 'commander';
import type { Db } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { listQueues, queueInfo, setQueueLimit } from '../tasks/queues.js';
import { parseAge, pruneTasks } from '../tasks/retention.js';
import { TaskSchedules, type ScheduleRow } from '../tasks/schedules.js';
import { TASK_PRIORITIES, TASK_STATUSES, type TaskPriority, type TaskStatus } from '../tasks/types.js';
import { globalOptions, openDb, output, parseIntOption, parseJsonOption } from './context.js';

async function withDb<T>(cmd: Command, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(cmd, { poolSize: 2 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function list(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw invalidInput(`expected a comma-separated list, got '${value}'`);
  return items;
}

function scheduleLine(s: ScheduleRow): string {
  const next = s.next_slot ? s.next_slot.toISOString() : '-';
  return `${s.name}  ${s.enabled ? 'enabled ' : 'disabled'}  '${s.cron}' ${s.timezone}  → ${s.type} (queue ${s.queue}, ${s.priority})  next ${next}`;
}

function registerSchedules(program: Command): void {
  const sc = program.command('schedules').description('recurring tasks: cron schedules stored in the database, fired once per slot');
  sc.command('list')
    .description('list schedules with their next slot')
    .action(async (_o: unknown, cmd: Command) => {
      const page = await withDb(cmd, (db) => new TaskSchedules(db).list());
      // --json prints the library's page, the body of GET /api/schedules.
      output(cmd, page, () => (page.items.length ? page.items.map(scheduleLine).join('\n') : 'no schedules'));
    });
  sc.command('set')
    .description('create or replace a schedule (fires from the next slot after now)')
    .argument('<name>', 'schedule name')
    .requiredOption('--cron <expr>', "5-field cron expression or macro, e.g. '*/5 * * * *' or @daily")
    .requiredOption('--type <type>', 'task type created on each slot')
    .option('--params <json>', 'task params, a JSON object', '{}')
    .option('--queue <queue>', 'queue of the created tasks', 'default')
    .option('--priority <p>', `priority: ${TASK_PRIORITIES.join(', ')}`, 'normal')
    .option('--timezone <tz>', 'IANA time zone the cron fields are read in', 'UTC')
    .option('--disabled', 'store it disabled')
    .action(
      async (
        name: string,
        o: { cron: string; type: string; params: string; queue: string; priority: string; timezone: string; disabled?: boolean },
        cmd: Command,
      ) => {
        const params = parseJsonOption('--params', o.params) as Record<string, unknown>;
        const row = await withDb(cmd, (db) =>
          new TaskSchedules(db).set({
            name,
            cron: o.cron,
            type: o.type,
            params,
            queue: o.queue,
            priority: o.priority as TaskPriority,
            timezone: o.timezone,
            enabled: !o.disabled,
          }),
        );
        output(cmd, row, () => scheduleLine(row));
      },
    );
  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    sc.command(verb)
      .description(`${verb} a schedule${enabled ? ' (slots missed while disabled do not fire)' : ''}`)
      .argument('<name>', 'schedule name')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const row = await withDb(cmd, (db) => new TaskSchedules(db).setEnabled(name, enabled));
        output(cmd, row, () => scheduleLine(row));
      });
  }
  sc.command('delete')
    .description('delete a schedule (tasks it created stay)')
    .argument('<name>', 'schedule name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withDb(cmd, (db) => new TaskSchedules(db).delete(name));
      output(cmd, { deleted: name }, () => `deleted schedule ${name}`);
    });
}

function registerQueues(program: Command): void {
  const qc = program.command('queues').description('named queues: waiting/running counts and cluster-wide concurrency limits');
  qc.command('list')
    .description('queues with tasks waiting or running, or a limit')
    .action(async (_o: unknown, cmd: Command) => {
      const page = await withDb(cmd, (db) => listQueues(db));
      // --json prints the library's page, the body of GET /api/queues.
      output(cmd, page, () =>
        page.items.length
          ? page.items.map((r) => `${r.queue}  waiting ${r.waiting}  running ${r.running}  limit ${r.max_running ?? 'none'}`).join('\n')
          : 'no queues',
      );
    });
  qc.command('limit')
    .description("limit the tasks of a queue running at once across all workers ('none' removes the limit, 0 pauses the queue)")
    .argument('<queue>', 'queue name')
    .argument('<max>', "maximum running tasks, or 'none'")
    .action(async (queue: string, max: string, _o: unknown, cmd: Command) => {
      // A number is passed as a number and anything else as given, so the library's schema
      // reports it (max_running: expected …, got …) as it does for the HTTP body.
      const n: unknown = max === 'none' ? null : max.trim() !== '' && Number.isFinite(Number(max)) ? Number(max) : max;
      const row = await withDb(cmd, async (db) => {
        await setQueueLimit(db, queue, n as number | null);
        return queueInfo(db, queue);
      });
      // --json prints the body of PUT /api/queues/:queue/limit.
      output(cmd, row, () => `queue ${queue}: limit ${row.max_running ?? 'none'}`);
    });
}

function registerPrune(program: Command): void {
  const tasks = program.commands.find((c) => c.name() === 'tasks') ?? program.command('tasks').description('task management');
  tasks
    .command('prune')
    .description('delete ended tasks older than an age, in batches (tasks linked in the graph are kept)')
    .requiredOption('--older-than <age>', 'e.g. 7d, 12h, 30m')
    .option('--batch <n>', 'rows deleted per statement', parseIntOption('--batch', 1, 100_000), 5000)
    .option('--status <list>', `statuses to prune (comma-separated: completed, failed, cancelled)`, 'completed')
    .option('--vacuum', 'VACUUM tasks afterwards (when autovacuum is off or lags)')
    .action(async (o: { olderThan: string; batch: number; status: string; vacuum?: boolean }, cmd: Command) => {
      const statuses = list(o.status) as TaskStatus[];
      for (const s of statuses) if (!TASK_STATUSES.includes(s)) throw invalidInput(`unknown status '${s}'`);
      const json = globalOptions(cmd).json;
      const result = await withDb(cmd, (db) =>
        pruneTasks(db, {
          olderThanSeconds: parseAge(o.olderThan),
          batchSize: o.batch,
          statuses,
          vacuum: o.vacuum === true,
          onProgress: (p) => {
            if (!json) process.stderr.write(`\rpruned ${p.deleted} tasks (${p.batches} batches)`);
          },
        }),
      );
      if (!json) process.stderr.write('\n');
      output(cmd, result, () => `pruned ${result.deleted} tasks in ${result.batches} batches`);
    });
}

export function registerSchedulingCommands(program: Command): void {
  registerSchedules(program);
  registerQueues(program);
  registerPrune(program);
}
