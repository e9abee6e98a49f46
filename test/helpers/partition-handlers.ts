/**
 * Handlers for the partition test (`seedcore worker --handlers <this file>`). Every execution
 * is journaled in a local file (the database may be unreachable from a cut-off host), one line
 * per start and end with the owner id it ran under and the time (the hosts share this
 * machine's clock with the database server).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HandlerMap } from '../../src/tasks/types.js';

export interface JournalLine {
  e: 'start' | 'end';
  id: string;
  owner: string;
  at: number;
  pid: number;
  aborted?: boolean;
}

const file = join(process.env.SEEDCORE_TEST_JOURNAL_DIR ?? '.', `journal-${process.pid}.jsonl`);

function journal(line: Omit<JournalLine, 'pid' | 'at'>): void {
  appendFileSync(file, `${JSON.stringify({ ...line, at: Date.now(), pid: process.pid })}\n`);
}

export default function handlers(): HandlerMap {
  const run = async (id: string, owner: string, ms: number, signal: AbortSignal): Promise<{ ran: number }> => {
    journal({ e: 'start', id, owner });
    const aborted = await new Promise<boolean>((resolve) => {
      if (signal.aborted) return resolve(true);
      const t = setTimeout(() => resolve(false), ms);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    journal({ e: 'end', id, owner, aborted });
    if (aborted) throw new Error('aborted');
    return { ran: ms };
  };
  return {
    slow: (task, ctx) => run(task.id, ctx.ownerId, Number(task.params.ms ?? 40_000), ctx.signal),
    quick: (task, ctx) => run(task.id, ctx.ownerId, Number(task.params.ms ?? 5), ctx.signal),
  };
}
