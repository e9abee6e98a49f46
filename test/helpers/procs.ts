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

/**
 * Wait until the process logged a line containing `text`: checked on each chunk of stderr it
 * writes; fails when it exits without that line, or after `timeoutMs`.
 */
export function waitForLog(p: Proc, text: string, timeoutMs = 20_000): Promise<void> {
  const exitedError = () => new Error(`process exited (${p.child.exitCode ?? p.child.signalCode}) before logging '${text}':\n${p.stderr().slice(-3000)}`);
  if (p.stderr().includes(text)) return Promise.resolve();
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.reject(exitedError());
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      p.child.stderr?.off('data', onData);
      p.child.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    // spawnSeedcore's own listener, registered first, has already appended the chunk.
    const onData = (): void => {
      if (p.stderr().includes(text)) finish();
    };
    // 'close' comes after the last of stderr was read.
    const onClose = (): void => finish(p.stderr().includes(text) ? undefined : exitedError());
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for '${text}':\n${p.stderr().slice(-3000)}`)), timeoutMs);
    p.child.stderr?.on('data', onData);
    p.child.once('close', onClose);
  });
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
