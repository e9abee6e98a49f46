import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGliteDb, type BackendKind, type Db } from '../../src/db/index.js';
import { migrate } from '../../src/migrate/runner.js';
import { freshDb } from './db.js';

export const BIN = fileURLToPath(new URL('../../../bin/seedcore.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * True when the child died loading the CLI's modules, before any of its code ran: Node's own
 * fatal report of a parse, link or resolve error (every static import is parsed and linked
 * before the first module is evaluated), with nothing printed by the CLI itself (its errors
 * start with `seedcore:` or are JSON). This happens when dist/ is being rewritten by a build
 * while a test spawns the CLI: a file caught half-written or empty lacks its exports.
 */
export function diedLoadingModules(r: CliResult): boolean {
  return (
    r.code === 1 &&
    r.stdout === '' &&
    /^(SyntaxError: |Error \[ERR_MODULE_NOT_FOUND\]: )/m.test(r.stderr) &&
    /^Node\.js v\d/m.test(r.stderr) &&
    !/^(seedcore:|\{"error")/m.test(r.stderr)
  );
}

function spawnCli(args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: undefined, ...env };
    for (const k of Object.keys(childEnv)) if (childEnv[k] === undefined) delete childEnv[k];
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`seedcore ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** How long a run that died loading its modules is retried: a build rewrites dist/ in seconds. */
const LOAD_RETRY_MS = 30_000;

/**
 * Run the real CLI in a child process (environment without DATABASE_URL unless given). A
 * child that died loading its modules ran no command, so it is started again, for up to
 * LOAD_RETRY_MS; a build that stays broken still fails, with Node's report as stderr.
 */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliResult> {
  const deadline = Date.now() + LOAD_RETRY_MS;
  for (;;) {
    const r = await spawnCli(args, env, timeoutMs);
    if (!diedLoadingModules(r) || Date.now() >= deadline) return r;
    await new Promise((done) => setTimeout(done, 1000));
  }
}

/** The database a CLI test points its commands at, as the global options that name it. */
export interface CliDatabase {
  /** `--database-url <url>` on PostgreSQL, `--data-dir <dir>` on PGlite. */
  target: string[];
  /** Drop the database or remove the data directory. */
  cleanup(): Promise<void>;
}

/**
 * A migrated database for CLI tests: on PostgreSQL a fresh database, on PGlite a data
 * directory that is closed again before the CLI opens it (PGlite allows one process per
 * directory). `setup` runs once on it first, to build data through the library.
 */
export async function cliDatabase(kind: BackendKind, setup?: (db: Db) => Promise<void>): Promise<CliDatabase> {
  if (kind === 'postgres') {
    const t = await freshDb('postgres');
    try {
      await setup?.(t.db);
    } catch (e) {
      await t.cleanup();
      throw e;
    }
    return { target: ['--database-url', t.url as string], cleanup: () => t.cleanup() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'seedcore-cli-'));
  const cleanup = async (): Promise<void> => rmSync(dir, { recursive: true, force: true });
  try {
    const db = await PGliteDb.open({ dataDir: join(dir, 'data') });
    try {
      await migrate(db);
      await setup?.(db);
    } finally {
      await db.close();
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { target: ['--data-dir', join(dir, 'data')], cleanup };
}
