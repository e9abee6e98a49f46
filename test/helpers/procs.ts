/** Spawning `seedcore` CLI processes for multi-process tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** Repository root (this file is compiled to dist/test/helpers/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = resolve(ROOT, 'bin/seedcore.js');

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** stderr collected so far (JSON log lines). */
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Spawn `seedcore …`; `withoutDatabaseUrl` drops DATABASE_URL so `--data-dir` means the embedded database. */
export function spawnSeedcore(args: string[], env: Record<string, string> = {}, withoutDatabaseUrl = false): Proc {
  const base: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (withoutDatabaseUrl) delete base.DATABASE_URL;
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  child.stdout?.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, pid: child.pid as number, stderr: () => err, exited };
}

/** Wait until the process logged a line containing `text`. */
export async function waitForLog(p: Proc, text: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!p.stderr().includes(text)) {
    if (p.child.exitCode !== null) throw new Error(`process exited (${p.child.exitCode}) before logging '${text}':\n${p.stderr().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for '${text}':\n${p.stderr().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The handler module the multi-process tests share: type `journaled` logs every execution. */
export const JOURNALED_HANDLERS = resolve(ROOT, 'dist/test/helpers/task-handlers-mp.js');

/** Timings of a `seedcore worker` running the journaled handler (seconds, except pollMs). */
export interface JournaledWorkerTimings {
  leaseSeconds: number;
  heartbeatSeconds: number;
  pollMs: number;
  maxAttempts: number;
  prefetch?: number;
}

/** A real `seedcore worker` process on `url` that claims only `journaled` tasks, 4 at a time. */
export function startJournaledWorker(url: string, t: JournaledWorkerTimings): Proc {
  return spawnSeedcore([
    '--database-url',
    url,
    'worker',
    '--handlers',
    JOURNALED_HANDLERS,
    '--types',
    'journaled',
    '--concurrency',
    '4',
    ...(t.prefetch !== undefined ? ['--prefetch', String(t.prefetch)] : []),
    '--lease-seconds',
    String(t.leaseSeconds),
    '--heartbeat-seconds',
    String(t.heartbeatSeconds),
    '--poll-ms',
    String(t.pollMs),
    '--max-attempts',
    String(t.maxAttempts),
  ]);
}
