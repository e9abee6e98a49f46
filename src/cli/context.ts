import type { Command } from 'commander';
import { connect, migrateUnlessStandby, type Db } from '../db/index.js';
import { SeedCoreError, isSeedCoreError, sqlState } from '../errors.js';
import { redactSecrets } from '../server/edges.js';

/** Options every command accepts (defined on the root program). */
export interface GlobalOptions {
  databaseUrl?: string;
  dataDir?: string;
  json?: boolean;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/**
 * Open the database a command should use: --database-url / DATABASE_URL selects the server,
 * otherwise the embedded data directory. Migrates first unless `migrate: false` (on a read-only
 * standby it only checks the schema is current, so read commands work there). Connection
 * settings come from the environment (SEEDCORE_LISTEN_URL, SEEDCORE_PREPARED_STATEMENTS,
 * SEEDCORE_QUERY_TIMEOUT_MS, SEEDCORE_STATEMENT_TIMEOUT_MS, SEEDCORE_CONNECT_TIMEOUT_MS,
 * SEEDCORE_KEEPALIVE_MS; see src/db/settings.ts).
 */
export async function openDb(cmd: Command, opts: { migrate?: boolean; poolSize?: number } = {}): Promise<Db> {
  const g = globalOptions(cmd);
  checkDatabaseUrl(g.databaseUrl ?? process.env.DATABASE_URL);
  const db = await connect({ databaseUrl: g.databaseUrl, dataDir: g.dataDir, poolSize: opts.poolSize, applicationName: `seedcore-${cmd.name()}` });
  if (opts.migrate !== false) {
    try {
      await migrateUnlessStandby(db);
    } catch (e) {
      await db.close();
      throw e;
    }
  }
  return db;
}

/**
 * Refuse a database URL that is not a postgres:// URL before connecting (else the driver
 * reads parts of it as a host name), naming it with its password masked.
 */
export function checkDatabaseUrl(url: string | undefined): void {
  if (url === undefined || url === '') return;
  let ok = false;
  try {
    ok = ['postgres:', 'postgresql:'].includes(new URL(url).protocol);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new SeedCoreError(
      'SEEDCORE_INVALID_INPUT',
      `the database URL '${redactSecrets(url)}' is not a PostgreSQL URL (postgres://user:password@host:5432/database)`,
      {
        details: { path: 'databaseUrl', expected: 'postgres://user:password@host:port/database', got: redactSecrets(url) },
      },
    );
}

/** Print data: JSON with --json, else the human formatter's output. */
export function output(cmd: Command, data: unknown, human: () => string): void {
  if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else process.stdout.write(`${human()}\n`);
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 3, notFound: 4, conflict: 5 } as const;

// The server answered but refused us: no such database (3D000), role or password (28xxx).
const UNREACHABLE_DATABASE = new Set(['3D000', '28000', '28P01']);

export function exitCodeFor(e: unknown): number {
  if (!isSeedCoreError(e)) return EXIT.failure;
  const state = sqlState(e.cause);
  if (state !== undefined && UNREACHABLE_DATABASE.has(state)) return EXIT.unavailable;
  switch (e.code) {
    case 'SEEDCORE_INVALID_INPUT':
      return EXIT.usage;
    case 'SEEDCORE_UNAVAILABLE':
    case 'SEEDCORE_DATA_DIR_LOCKED':
      return EXIT.unavailable;
    case 'SEEDCORE_NOT_FOUND':
      return EXIT.notFound;
    case 'SEEDCORE_CONFLICT':
    case 'SEEDCORE_AMBIGUOUS_ID':
    case 'SEEDCORE_FENCED':
      return EXIT.conflict;
    default:
      return EXIT.failure;
  }
}

/** Parse a JSON option value or fail with a usage error naming the option. */
export function parseJsonOption(name: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new SeedCoreError('SEEDCORE_INVALID_INPUT', `${name} is not valid JSON: ${(e as Error).message}`);
  }
}

export function parseIntOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new SeedCoreError('SEEDCORE_INVALID_INPUT', `${name} must be an integer between ${min} and ${max} (got '${value}')`);
    return n;
  };
}
