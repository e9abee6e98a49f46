import type { Command } from 'commander';
import { migrate, migrationStatus } from '../migrate/runner.js';
import { formatQuarantine } from '../migrate/quarantine.js';
import { formatVerifyReport, verifySchema } from '../migrate/verify.js';
import { globalOptions, openDb, output } from './context.js';

export function registerMigrateCommands(program: Command): void {
  program
    .command('migrate')
    .description('apply pending migrations in order (serialised across processes; refuses if an applied file changed)')
    .option('--dry-run', 'list what would be applied, apply nothing')
    .action(async (opts: { dryRun?: boolean }, cmd: Command) => {
      const db = await openDb(cmd, { migrate: false });
      try {
        const quiet = globalOptions(cmd).json;
        const result = await migrate(db, {
          dryRun: opts.dryRun ?? false,
          // --json prints nothing but the result: no progress lines then.
          ...(!quiet && {
            onProgress: (e) => {
              if (e.phase === 'start') process.stderr.write(`applying ${e.file.name} … `);
              else if (e.phase === 'done') process.stderr.write(`${e.durationMs} ms\n`);
              else process.stderr.write('already applied by another runner\n');
            },
          }),
        });
        output(cmd, { database: db.description, dryRun: opts.dryRun ?? false, ...result }, () => {
          if (opts.dryRun) return result.pending.length ? `would apply:\n${result.pending.map((p) => `  ${p.name}`).join('\n')}` : 'nothing to apply';
          const kept = formatQuarantine(result.quarantine);
          return `${result.applied.length} applied, ${result.skipped} already applied (${db.description})${kept ? `\n${kept}` : ''}`;
        });
      } finally {
        await db.close();
      }
    });

  program
    .command('status')
    .description('show the migration ledger: applied, pending and changed files')
    .action(async (_opts: unknown, cmd: Command) => {
      const db = await openDb(cmd, { migrate: false });
      try {
        const rows = await migrationStatus(db);
        output(cmd, rows, () =>
          rows
            .map(
              (r) =>
                `${r.state.padEnd(12)} ${r.name.padEnd(36)} ${r.appliedAt ? r.appliedAt.toISOString() : ''}${r.durationMs !== undefined ? ` ${r.durationMs} ms` : ''}`,
            )
            .join('\n'),
        );
        if (rows.some((r) => r.state === 'changed')) process.exitCode = 1;
      } finally {
        await db.close();
      }
    });

  program
    .command('verify')
    .description("check the live catalogue against everything the seed promises and run the seed's verification queries (exit 1 on any miss)")
    .action(async (_opts: unknown, cmd: Command) => {
      const db = await openDb(cmd, { migrate: false });
      try {
        const report = await verifySchema(db);
        output(cmd, { database: db.description, ...report }, () => `${db.description}\n${formatVerifyReport(report)}`);
        if (!report.ok) process.exitCode = 1;
      } finally {
        await db.close();
      }
    });
}
