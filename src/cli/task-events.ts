/** `seedcore tasks emit NAME [--payload JSON]`: wake durable tasks waiting in ctx.awaitEvent(NAME). */
import type { Command } from 'commander';
import { TaskCoordinator } from '../tasks/coordinator.js';
import { parseAge, pruneTaskEvents } from '../tasks/retention.js';
import { openDb, output, parseJsonOption } from './context.js';

export function registerTaskEventCommands(tasks: Command): void {
  tasks
    .command('emit <name>')
    .description('emit a durable-task event once (the first emit of a name wins; later ones change nothing and say so)')
    .option('--payload <json>', 'any JSON value handed to every waiter', 'null')
    .action(async (name: string, o: { payload: string }, cmd: Command) => {
      const payload = parseJsonOption('--payload', o.payload);
      const db = await openDb(cmd);
      let emitted: boolean;
      try {
        emitted = await new TaskCoordinator(db).emitEvent(name, payload);
      } finally {
        await db.close();
      }
      output(cmd, { name, emitted }, () => (emitted ? `emitted ${name}` : `${name} had already been emitted (its first payload stays)`));
    });

  tasks
    .command('prune-events')
    .description('delete durable-task events emitted longer ago than --older-than (a later await of the name waits for a new emit)')
    .requiredOption('--older-than <age>', 'e.g. 7d, 12h, 30m')
    .action(async (o: { olderThan: string }, cmd: Command) => {
      const olderThanSeconds = parseAge(o.olderThan);
      const db = await openDb(cmd);
      let deleted: number;
      try {
        ({ deleted } = await pruneTaskEvents(db, { olderThanSeconds }));
      } finally {
        await db.close();
      }
      output(cmd, { deleted }, () => `deleted ${deleted} events`);
    });
}
