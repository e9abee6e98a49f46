/**
 * The PGlite data directory's lock file: one holder, a clear error for a second opener, a dead
 * owner's lock taken over, an empty lock (a create in progress) respected for a grace period,
 * and, with several processes racing for one stale lock, exactly one winner.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { EMPTY_LOCK_GRACE_MS, acquireDirLock } from '../src/db/lockfile.js';
import { isSeedCoreError } from '../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'seedcore-lock-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const freshDir = (): string => join(tmp, `data-${++n}`);

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function lockedBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    assert.ok(isSeedCoreError(e), String(e));
    assert.equal(e.code, 'SEEDCORE_DATA_DIR_LOCKED');
    return e.details?.['pid'];
  }
  assert.fail('expected SEEDCORE_DATA_DIR_LOCKED');
}

describe('data directory lock file', () => {
  it('holds the pid while taken, and release removes it', () => {
    const dir = freshDir();
    const lock = acquireDirLock(dir);
    assert.equal(readFileSync(`${dir}.lock`, 'utf8').trim(), String(process.pid));
    assert.equal(
      lockedBy(() => acquireDirLock(dir)),
      process.pid,
    );
    lock.release();
    assert.equal(existsSync(`${dir}.lock`), false);
    acquireDirLock(dir).release(); // free again
  });

  it('a live owner keeps it: the second opener is told which process holds it', () => {
    const dir = freshDir();
    writeFileSync(`${dir}.lock`, `${process.ppid}\n`);
    assert.equal(
      lockedBy(() => acquireDirLock(dir)),
      process.ppid,
    );
    assert.equal(readFileSync(`${dir}.lock`, 'utf8').trim(), String(process.ppid), 'left in place');
  });

  it("a dead owner's lock is taken over", () => {
    const dir = freshDir();
    writeFileSync(`${dir}.lock`, `${deadPid()}\n`);
    const lock = acquireDirLock(dir);
    assert.equal(readFileSync(`${dir}.lock`, 'utf8').trim(), String(process.pid));
    lock.release();
  });

  it('an empty lock file counts as a create in progress while fresh, and as stale once old', () => {
    const dir = freshDir();
    writeFileSync(`${dir}.lock`, '');
    assert.equal(
      lockedBy(() => acquireDirLock(dir)),
      null,
    );
    // Positive control: the same empty file, older than the grace period, is taken over.
    const old = (Date.now() - EMPTY_LOCK_GRACE_MS - 2_000) / 1000;
    utimesSync(`${dir}.lock`, old, old);
    const lock = acquireDirLock(dir);
    assert.equal(readFileSync(`${dir}.lock`, 'utf8').trim(), String(process.pid));
    lock.release();
  });

  it('leaves no private files behind', () => {
    const dir = freshDir();
    writeFileSync(`${dir}.lock`, `${deadPid()}\n`);
    acquireDirLock(dir).release();
    const base = dir.slice(tmp.length + 1);
    assert.deepEqual(
      readdirSync(tmp).filter((f) => f.startsWith(`${base}.`)),
      [],
    );
  });

  it('processes racing for one stale lock: exactly one wins, every round', async () => {
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '..', 'src', 'db', 'lockfile.js')).href;
    // Each child waits for the same start time, tries once, reports, and holds a won lock
    // until every child has tried.
    const script = `
      const { acquireDirLock } = await import(${JSON.stringify(moduleUrl)});
      const [dir, startAt] = process.argv.slice(1);
      while (Date.now() < Number(startAt)) {}
      let result;
      try { acquireDirLock(dir); result = 'won'; } catch (e) { result = e.code ?? String(e); }
      process.stdout.write(result);
      setTimeout(() => process.exit(0), 1500);`;
    for (let round = 0; round < 5; round++) {
      const dir = freshDir();
      writeFileSync(`${dir}.lock`, `${deadPid()}\n`);
      const startAt = Date.now() + 800;
      const results = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<string>((resolve, reject) => {
              const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, String(startAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
              let out = '';
              child.stdout.on('data', (d: Buffer) => (out += d.toString()));
              child.on('error', reject);
              child.on('close', () => resolve(out));
            }),
        ),
      );
      assert.equal(results.filter((r) => r === 'won').length, 1, `round ${round}: ${JSON.stringify(results)}`);
      assert.deepEqual(
        results.filter((r) => r !== 'won'),
        Array(5).fill('SEEDCORE_DATA_DIR_LOCKED'),
      );
    }
  });
});
