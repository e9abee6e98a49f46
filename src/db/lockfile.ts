import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SeedCoreError } from '../errors.js';

/**
 * A pid lock file beside a PGlite data directory. PGlite takes no lock of its own and two
 * processes opening one directory corrupt it (PGlite issues #709, #1106), so the second
 * opener must get a clear error instead. A lock left by a dead process is taken over.
 */
export interface DirLock {
  readonly path: string;
  release(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM means the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireDirLock(dataDir: string): DirLock {
  const path = `${dataDir.replace(/\/+$/, '')}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
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
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      } catch {
        continue; // removed between open and read: try again
      }
      if (Number.isInteger(owner) && owner !== process.pid && pidAlive(owner)) {
        throw new SeedCoreError(
          'SEEDCORE_DATA_DIR_LOCKED',
          `The embedded data directory ${dataDir} is in use by process ${owner} (lock file ${path}). ` +
            'Only one process may open it: stop that process, talk to it over its HTTP API, ' +
            'or set DATABASE_URL to a PostgreSQL server to run several processes.',
          { details: { dataDir, pid: owner, lockFile: path } },
        );
      }
      if (owner === process.pid) {
        throw new SeedCoreError('SEEDCORE_DATA_DIR_LOCKED', `The data directory ${dataDir} is already open in this process; reuse that SeedCore instance.`, {
          details: { dataDir, pid: owner, lockFile: path },
        });
      }
      // Stale lock from a dead process: remove it and retry the exclusive create.
      try {
        unlinkSync(path);
      } catch {
        /* someone else removed it first */
      }
    }
  }
  throw new SeedCoreError('SEEDCORE_DATA_DIR_LOCKED', `Could not take the lock file ${path} for ${dataDir}.`);
}
