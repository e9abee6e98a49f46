/** `seedcore capabilities list`: capability discovery (live providers, waiting tasks). */
import type { Command } from 'commander';
import { listCapabilities } from '../agents/routing.js';
import { openDb, output } from './context.js';

export function registerCapabilityCommands(program: Command): void {
  const caps = program.command('capabilities').description('capabilities organs provide and tasks require');
  caps
    .command('list')
    .description('each capability: its live providers (organ, instance, version, tasks in flight) and the waiting tasks that require it')
    .action(async (_o: unknown, cmd: Command) => {
      const db = await openDb(cmd);
      try {
        const items = await listCapabilities(db);
        output(cmd, { items, nextCursor: null }, () =>
          items.length === 0
            ? '(no capabilities)'
            : items
                .map((c) => {
                  const providers = c.providers.map((p) => `${p.organId}@${p.version ?? '0'} (${p.instanceId.slice(0, 8)}, ${p.inFlight} in flight)`);
                  return `${c.name}  waiting ${c.waiting}  providers: ${providers.length > 0 ? providers.join(', ') : 'none live'}`;
                })
                .join('\n'),
        );
      } finally {
        await db.close();
      }
    });
}
