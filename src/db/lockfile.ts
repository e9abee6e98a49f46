import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { SeedCoreError } from '../errors.js';

/**
 * A pid lock file beside a PGlite data directory. PGlite takes no lock of its own and two
 * processes opening one directory corrupt it (PGlite issues #709, #1106), so the second
 * opener must get a clear error instead. A lock left by a dead process is taken over.
 *
 * The lock file appears with its pid already in it: the pid is written to a private file
 * that is then hard-linked to the lock's name, and link() fails when the name exists. (With
 * an exclusive create followed by a write, another process could read the file between the
 * two, find no pid, and take a live lock over as stale.) An empty lock file can still be left
 * by a crash of an older version mid-create; it counts as held while younger than
 * EMPTY_LOCK_GRACE_MS and as stale after.
 *
 * Only the holder of a second lock file, `<lock>.takeover` (taken the same way), may remove a
 * stale lock, and it reads the lock again under it first: a lock can then only be removed
 * while it still holds the dead owner's pid, never the fresh lock of a process that took the
 * stale one over a moment earlier. (Without it, two processes that both saw the dead pid
 * could each remove the other's fresh lock and both open the directory.) The takeover lock
 * is held for a read and an unlink; one left by a crash is removed once it is older than
 * TAKEOVER_STALE_MS and its owner is dead.
 */
export interface DirLock {
  readonly path: string;
  release(): void;
}

/** How long an empty lock file is taken for one being created. */
export const EMPTY_LOCK_GRACE_MS = 5_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM means the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's content: its owner's pid, null for an empty file, undefined when it is gone. */
function readOwner(path: string): { pid: number | null; mtimeMs: number } | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    const mtimeMs = statSync(path).mtimeMs;
    const pid = Number.parseInt(text, 10);
    return { pid: Number.isInteger(pid) ? pid : null, mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Create the lock with this process's pid in it; false when a lock file already exists. */
function createLock(path: string): boolean {
  const own = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(own, `${process.pid}\n`, { flag: 'wx' });
  try {
    linkSync(own, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(own);
  }
}

/** How old a takeover lock of a dead process must be before it is removed. */
const TAKEOVER_STALE_MS = 10_000;

/** Sleep this thread (the lock is taken synchronously, at open). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Under the takeover lock, remove the lock if it still holds `seen` (a dead pid, or null for
 * an old empty file). False when another process holds the takeover lock.
 */
function removeStale(path: string, seen: number | null): boolean {
  const takeover = `${path}.takeover`;
  if (!createLock(takeover)) {
    const holder = readOwner(takeover);
    if (holder && (holder.pid === null || !pidAlive(holder.pid)) && Date.now() - holder.mtimeMs > TAKEOVER_STALE_MS) {
      try {
        unlinkSync(takeover);
      } catch {
        /* removed by someone else */
      }
    }
    return false;
  }
  try {
    const now = readOwner(path);
    if (now !== undefined && now.pid === seen) unlinkSync(path);
  } finally {
    unlinkSync(takeover);
  }
  return true;
}

function lockedError(dataDir: string, path: string, owner: number): SeedCoreError {
  return new SeedCoreError(
    'SEEDCORE_DATA_DIR_LOCKED',
    `The embedded data directory ${dataDir} is in use by process ${owner} (lock file ${path}). ` +
      'Only one process may open it: stop that process, talk to it over its HTTP API, ' +
      'or set DATABASE_URL to a PostgreSQL server to run several processes.',
    { details: { dataDir, pid: owner, lockFile: path } },
  );
}

export function acquireDirLock(dataDir: string): DirLock {
  const path = `${dataDir.replace(/\/+$/, '')}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  // Attempts are cheap; they repeat only while other processes take over the same stale lock.
  for (let attempt = 0; attempt < 50; attempt++) {
    if (createLock(path)) {
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        process.removeListener('exit', release);
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
      process.on('exit', release);
      return { path, release };
    }
    const owner = readOwner(path);
    if (owner === undefined) continue; // removed between the link and the read: try again
    if (owner.pid === process.pid) {
      throw new SeedCoreError('SEEDCORE_DATA_DIR_LOCKED', `The data directory ${dataDir} is already open in this process; reuse that SeedCore instance.`, {
        details: { dataDir, pid: owner.pid, lockFile: path },
      });
    }
    if (owner.pid !== null && pidAlive(owner.pid)) throw lockedError(dataDir, path, owner.pid);
    if (owner.pid === null && Date.now() - owner.mtimeMs < EMPTY_LOCK_GRACE_MS) {
      throw new SeedCoreError(
        'SEEDCORE_DATA_DIR_LOCKED',
        `The lock file ${path} for ${dataDir} is empty and was written less than ${EMPTY_LOCK_GRACE_MS / 1000} s ago: ` +
          'another process may be opening the directory. Retry in a few seconds.',
        { details: { dataDir, pid: null, lockFile: path } },
      );
    }
    // Stale: its owner is dead (or the file was left empty long ago). Remove it and retry;
    // while another process is removing it, wait a moment.
    if (!removeStale(path, owner.pid)) pause(20);
  }
  throw new SeedCoreError('SEEDCORE_DATA_DIR_LOCKED', `Could not take the lock file ${path} for ${dataDir}.`);
}
