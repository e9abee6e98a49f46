import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { PACKAGE_ROOT } from '../paths.js';
import { isSeedCoreError } from '../errors.js';
import { exitCodeFor } from './context.js';
import { registerMigrateCommands } from './migrate.js';
import { registerGraphCommands } from './graph.js';
import { registerFactsCommands } from './facts.js';
import { registerRegistryCommands } from './registry.js';
import { registerServeCommand } from './serve.js';
import { registerTaskCommands } from './tasks.js';
import { registerCapabilityCommands } from './capabilities.js';
import { registerSchedulingCommands } from './scheduling.js';
import { registerAgentCommands } from './agents.js';

export function buildProgram(): Command {
  const program = new Command('seedcore')
    .description('SeedCore: a Postgres-native core for multi-agent systems (tasks, graph, facts, registry)')
    .option('--database-url <url>', 'PostgreSQL server URL (default: $DATABASE_URL; without it the embedded database is used)')
    .option('--data-dir <dir>', 'embedded database directory (default: $SEEDCORE_DATA_DIR or .seedcore/data)')
    .option('--json', 'print machine-readable JSON')
    .version((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version, '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  registerMigrateCommands(program);
  registerGraphCommands(program);
  registerFactsCommands(program);
  registerRegistryCommands(program);
  registerServeCommand(program);
  registerTaskCommands(program);
  registerCapabilityCommands(program);
  registerSchedulingCommands(program);
  registerAgentCommands(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    const json = program.opts<{ json?: boolean }>().json;
    if (json) process.stderr.write(`${JSON.stringify({ error: isSeedCoreError(e) ? e.toJSON() : { code: 'SEEDCORE_INTERNAL', message: String(e) } })}\n`);
    else process.stderr.write(`seedcore: ${isSeedCoreError(e) ? `${e.message} [${e.code}]` : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = exitCodeFor(e);
  }
}
