/**
 * `npm start` the way Docker, systemd and process managers run it: they signal npm's pid, and
 * the service must get the signal, stop, and release its port and data-directory lock (no
 * orphan). Also: a start with dist/ current does not rebuild. Embedded backend (the lock is
 * what an orphan would keep); the signal path is the same on the server.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from './helpers/pgbouncer.js';
import { ROOT } from './helpers/procs.js';
import { waitFor } from './helpers/wait.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function portBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  describe(`npm start, then ${signal} to npm's pid`, () => {
    it('the service stops and releases its port and data-directory lock; dist/ current → no rebuild', async () => {
      // Bring dist/ up to date first, so that the start below must not build.
      const pre = spawnSync(process.execPath, [join(ROOT, 'scripts/build-if-stale.mjs')], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(pre.status, 0, `build-if-stale failed: ${pre.stderr}`);
      const dir = mkdtempSync(join(tmpdir(), 'seedcore-npm-start-'));
      const dataDir = join(dir, 'data');
      const port = await freePort();
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), SEEDCORE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
      delete env.DATABASE_URL;
      const npm = spawn('npm', ['start', '--', '--no-demo'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      npm.stdout.on('data', (b: Buffer) => (out += b.toString()));
      npm.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<number | null>((r) => npm.on('exit', (code) => r(code)));
      try {
        await waitFor(
          'the "listening" line',
          () => {
            assert.equal(npm.exitCode, null, `npm exited before the service listened:\n${out}`);
            return out.includes('SeedCore listening on');
          },
          45_000,
          50,
        ).catch((e: unknown) => {
          if (e instanceof assert.AssertionError) throw e;
          assert.fail(`no "listening" line within 45 s:\n${out}`);
        });
        assert.ok(!out.includes('building ('), `dist/ was current but the start rebuilt:\n${out}`);
        // Positive controls: the service (not npm) holds the lock and the port.
        const lock = `${dataDir}.lock`;
        const servicePid = Number(readFileSync(lock, 'utf8').trim());
        assert.ok(servicePid > 0 && servicePid !== npm.pid && alive(servicePid), 'the service process holds the data-directory lock');
        assert.equal(await portAccepts(port), true, 'the service listens');

        npm.kill(signal);
        // The service stops within its own 9 s shutdown limit; the rest is slack for a busy machine.
        const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
        assert.notEqual(code, 'timeout', `npm did not exit within 30 s after ${signal} (service alive: ${alive(servicePid)}):\n${out}`);
        // Not our child: nothing announces its exit, so poll for the pid.
        await waitFor('the service process to exit', () => !alive(servicePid), 5000, 50).catch(() => undefined);
        assert.equal(alive(servicePid), false, `the service (pid ${servicePid}) outlived npm: an orphan`);
        assert.equal(existsSync(lock), false, `the data-directory lock was released (npm exit ${String(code)}):\n${out}`);
        assert.equal(await portBindable(port), true, 'the port was released');
      } finally {
        if (npm.exitCode === null) npm.kill('SIGKILL');
        const lock = `${dataDir}.lock`;
        if (existsSync(lock)) {
          const pid = Number(readFileSync(lock, 'utf8').trim());
          if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
        }
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
