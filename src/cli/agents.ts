/**
 * The agent layer's records from the command line: `seedcore memory get|list`,
 * `seedcore artifacts list|get`, `seedcore organs list|get` and `seedcore agents stats`.
 * Read-only, like the HTTP routes.
 */
import type { Command } from 'commander';
import { getArtifact, listArtifacts, type Artifact } from '../agents/artifacts.js';
import { getMemory, listMemory, listMemoryVersions, type MemoryCell } from '../agents/memory.js';
import { MAX_ORGAN_PAGE, getOrgan, listOrgans, type OrganInfo } from '../agents/organs.js';
import { STAT_DIMENSIONS, agentStats, type AgentStat, type StatDimension } from '../agents/stats.js';
import type { Db } from '../db/types.js';
import { invalidInput, notFound } from '../errors.js';
import { TaskCoordinator } from '../tasks/coordinator.js';
import { openDb, output, parseIntOption } from './context.js';

async function withDb<T>(cmd: Command, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(cmd);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function cellLine(c: MemoryCell): string {
  const value = JSON.stringify(c.value);
  const who = [c.writtenBy ? `task ${c.writtenBy}` : null, c.owners.length ? `owners ${c.owners.join(',')}` : null].filter(Boolean).join(', ');
  return `${c.scope}/${c.key} v${c.version}  ${c.createdAt}  ${value.length > 120 ? `${value.slice(0, 117)}...` : value}${who ? `  (${who})` : ''}`;
}

function artifactLine(a: Artifact): string {
  return `${a.id}  ${a.kind ?? '-'}  ${a.uri}  ${a.createdAt}${a.producedBy.length ? `  by ${a.producedBy.join(',')}` : ''}`;
}

function fmt(x: number | null, unit = ''): string {
  return x === null ? '-' : `${Math.round(x * 1000) / 1000}${unit}`;
}

function statLine(s: AgentStat): string {
  const key = s.other ? '(other)' : (s.key ?? '(none)');
  return [
    s.dimension.padEnd(10),
    key.padEnd(24),
    String(s.runs).padStart(7),
    String(s.completed).padStart(9),
    String(s.failed).padStart(6),
    String(s.retried).padStart(7),
    fmt(s.failureRate === null ? null : s.failureRate * 100, '%').padStart(8),
    fmt(s.p50Seconds, 's').padStart(9),
    fmt(s.p95Seconds, 's').padStart(9),
  ].join(' ');
}

function organLine(o: OrganInfo): string {
  const caps = o.capabilities.map((c) => `${c.name}@${c.version ?? '0'}`).join(',') || '-';
  const live = o.instances.length ? `live ${o.instances.map((i) => i.slice(0, 8)).join(',')}` : 'not live';
  return `${o.organId}  agent ${o.agentId ?? '-'}  capabilities ${caps}  skills ${o.skills.join(',') || '-'}  ${live}`;
}

const pageHint = (nextCursor: string | null): string => (nextCursor ? `\nmore: --cursor ${nextCursor}` : '');

export function registerAgentCommands(program: Command): void {
  const memory = program.command('memory').description('read agent memory (versioned memory cells written by handlers through ctx.memory)');
  memory
    .command('get <scope> <key> [version]')
    .description('the latest version of a memory cell, or the given version')
    .action(async (scope: string, key: string, versionText: string | undefined, _o: unknown, cmd: Command) => {
      const version = versionText === undefined ? undefined : parseIntOption('version', 1)(versionText);
      const cell = await withDb(cmd, (db) => getMemory(db, scope, key, version !== undefined ? { version } : {}));
      if (!cell) throw notFound(`memory ${scope}/${key} has ${version !== undefined ? `no version ${version}` : 'no version'}`, { scope, key });
      output(cmd, cell, () => `${cellLine(cell)}\n${JSON.stringify(cell.value, null, 2)}`);
    });
  memory
    .command('list')
    .description('with --scope and --key: every version of the key, newest first; otherwise the latest version of each key')
    .option('--scope <scope>', 'one scope (e.g. agent, organ, global)')
    .option('--key <key>', 'every version of this key (needs --scope)')
    .option('--prefix <prefix>', 'keys that start with this (without --key)')
    .option('--limit <n>', 'rows per page (1-1000)', parseIntOption('--limit', 1, 1000), 100)
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .action(async (o: { scope?: string; key?: string; prefix?: string; limit: number; cursor?: string }, cmd: Command) => {
      if (o.key !== undefined && o.scope === undefined)
        throw invalidInput('--key needs --scope (a key is unique within its scope)', { path: 'scope', expected: 'a scope with --key', got: 'none' });
      const page = { limit: o.limit, ...(o.cursor !== undefined ? { cursor: o.cursor } : {}) };
      const result = await withDb(cmd, (db) =>
        o.key !== undefined
          ? listMemoryVersions(db, o.scope as string, o.key, page)
          : listMemory(db, { ...page, ...(o.scope !== undefined ? { scope: o.scope } : {}), ...(o.prefix !== undefined ? { prefix: o.prefix } : {}) }),
      );
      output(cmd, result, () => (result.items.length ? result.items.map(cellLine).join('\n') : 'no memory cells') + pageHint(result.nextCursor));
    });

  const artifacts = program.command('artifacts').description('read artifacts (written by handlers through ctx.artifacts)');
  artifacts
    .command('list')
    .description('artifacts, newest first: all, or those a task produced (--task), of one --kind')
    .option('--task <id>', 'the producing task (an id or a unique prefix)')
    .option('--kind <kind>', 'e.g. file, s3, vector, blob')
    .option('--limit <n>', 'rows per page (1-1000)', parseIntOption('--limit', 1, 1000), 100)
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .action(async (o: { task?: string; kind?: string; limit: number; cursor?: string }, cmd: Command) => {
      const result = await withDb(cmd, async (db) => {
        const task = o.task !== undefined ? await new TaskCoordinator(db).resolveId(o.task) : undefined;
        return listArtifacts(db, {
          limit: o.limit,
          ...(task !== undefined ? { task } : {}),
          ...(o.kind !== undefined ? { kind: o.kind } : {}),
          ...(o.cursor !== undefined ? { cursor: o.cursor } : {}),
        });
      });
      output(cmd, result, () => (result.items.length ? result.items.map(artifactLine).join('\n') : 'no artifacts') + pageHint(result.nextCursor));
    });
  artifacts
    .command('get <id>')
    .description('one artifact with the tasks that produced it')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const a = await withDb(cmd, (db) => getArtifact(db, id));
      output(cmd, a, () => `${artifactLine(a)}\n${JSON.stringify(a.props, null, 2)}`);
    });

  const organs = program.command('organs').description('registered organs: agent, capabilities with versions, skills, live instances');
  organs
    .command('list')
    .description('organs by id, with their agent, offer and the alive registry instances serving each')
    .option('--limit <n>', `rows per page (1-${MAX_ORGAN_PAGE})`, parseIntOption('--limit', 1, MAX_ORGAN_PAGE), 100)
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .action(async (o: { limit: number; cursor?: string }, cmd: Command) => {
      const page = await withDb(cmd, (db) => listOrgans(db, { limit: o.limit, ...(o.cursor !== undefined ? { cursor: o.cursor } : {}) }));
      output(cmd, page, () => (page.items.length ? page.items.map(organLine).join('\n') : 'no organs') + pageHint(page.nextCursor));
    });
  organs
    .command('get <id>')
    .description('one organ (exit 4 when it is not registered)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const organ = await withDb(cmd, (db) => getOrgan(db, id));
      output(cmd, organ, () => organLine(organ));
    });

  const agents = program.command('agents').description('the agent layer: performance per organ, agent and capability');
  agents
    .command('stats')
    .description('per organ, agent and capability over a window: executions, completed, failed, retried, failure rate, p50/p95 duration')
    .option('--window <age>', 'e.g. 90s, 30m, 1h, 7d', '1h')
    .option('--dimension <list>', `comma-separated subset of ${STAT_DIMENSIONS.join(',')}`)
    .option('--keys <n>', 'most keys per dimension (the rest are folded into one row)', parseIntOption('--keys', 1, 1000), 100)
    .option('--source <source>', 'auto (the run history when it has runs in the window, else the tasks table), task_runs or tasks', 'auto')
    .action(async (o: { window: string; dimension?: string; keys: number; source: string }, cmd: Command) => {
      const dimensions = o.dimension?.split(',').map((d) => d.trim()) as StatDimension[] | undefined;
      const stats = await withDb(cmd, (db) =>
        agentStats(db, { window: o.window, keys: o.keys, source: o.source as 'auto', ...(dimensions ? { dimensions } : {}) }),
      );
      output(cmd, stats, () => {
        const head = `window ${stats.windowSeconds} s, from ${stats.source}${stats.source === 'tasks' ? ' (durations are submit-to-end)' : ''}`;
        if (stats.items.length === 0) return `${head}\nno executions ended in the window`;
        const cols = ['dimension'.padEnd(10), 'key'.padEnd(24), 'runs'.padStart(7), 'completed'.padStart(9), 'failed'.padStart(6), 'retried'.padStart(7)];
        const header = [...cols, 'failure'.padStart(8), 'p50'.padStart(9), 'p95'.padStart(9)].join(' ');
        return [head, header, ...stats.items.map(statLine)].join('\n');
      });
    });
}
