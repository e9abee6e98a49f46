/**
 * A streaming standby (`pg_basebackup -R`): read commands work against it, write commands fail
 * at once with PostgreSQL's read-only message, and `seedcore serve` serves reads instead of
 * hanging on LISTEN (which a standby refuses). The test makes its own small primary
 * (initdb in a temp dir, replication allowed) so that it neither needs replication rights on
 * the shared test server nor copies all of its databases; both clusters run on free ports and
 * are stopped and deleted whatever happens. Needs the PostgreSQL server binaries (as CI has).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresDb } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { openSeedCore } from '../src/seedcore.js';
import { runCli } from './helpers/cli.js';
import { SERVER_URL } from './helpers/db.js';
import { freePort } from './helpers/pgbouncer.js';
import { BIN } from './helpers/procs.js';
import { waitFor } from './helpers/tasks.js';

function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_basebackup')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

const BIN_DIR = pgBinDir();
const asRoot = process.getuid?.() === 0;

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user to run the test clusters as');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** Run a PostgreSQL tool, as the postgres user when we are root (the server refuses root). */
function pgTool(tool: string, args: string[]): string {
  const cmd = join(BIN_DIR as string, tool);
  const r = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function startCluster(dataDir: string, port: number, sockets: string): void {
  pgTool('pg_ctl', [
    '-D',
    dataDir,
    '-l',
    join(sockets, `log-${port}`),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${sockets} -c fsync=off -c max_connections=40`,
    'start',
  ]);
}

describe(
  'topology: on a streaming standby (postgres)',
  { skip: SERVER_URL && BIN_DIR ? false : 'needs DATABASE_URL and the PostgreSQL server binaries' },
  () => {
    let dir: string;
    let primaryUrl: string;
    let standbyUrl: string;
    const started: string[] = [];
    let taskId: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'seedcore-standby-'));
      if (asRoot) {
        const ids = postgresIds();
        chownSync(dir, ids.uid, ids.gid);
      }
      const primary = join(dir, 'primary');
      const standby = join(dir, 'standby');
      const [pPort, sPort] = [await freePort(), await freePort()];
      // initdb's default pg_hba.conf trusts local connections, replication included.
      pgTool('initdb', ['-D', primary, '-U', 'seedcore', '--auth=trust', '-E', 'UTF8', '--no-sync']);
      startCluster(primary, pPort, dir);
      started.push(primary);
      const admin = new pg.Client({ host: '127.0.0.1', port: pPort, user: 'seedcore', database: 'postgres' });
      await admin.connect();
      await admin.query('CREATE DATABASE seedcore_standby');
      await admin.end();
      primaryUrl = `postgres://seedcore@127.0.0.1:${pPort}/seedcore_standby`;
      standbyUrl = `postgres://seedcore@127.0.0.1:${sPort}/seedcore_standby`;
      const db = await PostgresDb.open({ databaseUrl: primaryUrl, poolSize: 2 });
      try {
        await migrate(db);
      } finally {
        await db.close();
      }
      const sc = await openSeedCore({ databaseUrl: primaryUrl, migrate: false });
      try {
        await sc.facts.add({ text: 'Standbys replay the primary', tags: ['standby'] });
        taskId = (await sc.tasks.submit({ type: 'noop', description: 'made on the primary' })).id;
      } finally {
        await sc.close();
      }
      pgTool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(pPort), '-U', 'seedcore', '-D', standby, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
      startCluster(standby, sPort, dir);
      started.push(standby);
      const check = new pg.Client({ connectionString: standbyUrl });
      await check.connect();
      try {
        const r = await check.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
        assert.equal(r.rows[0]?.standby, true, 'the second cluster is a standby');
        await waitFor(
          'the task replayed on the standby',
          async () => ((await check.query('SELECT 1 FROM tasks WHERE id = $1', [taskId])).rowCount ?? 0) === 1,
          30_000,
          100,
        );
      } finally {
        await check.end();
      }
    });

    after(() => {
      for (const d of started.reverse()) {
        try {
          pgTool('pg_ctl', ['-D', d, '-m', 'immediate', '-w', 'stop']);
        } catch {
          // already stopped
        }
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('the library knows it is on a standby', async () => {
      const db = await PostgresDb.open({ databaseUrl: standbyUrl, poolSize: 2, log: { warn: () => undefined } });
      const primary = await PostgresDb.open({ databaseUrl: primaryUrl, poolSize: 2 });
      try {
        assert.equal(await db.isStandby(), true);
        assert.equal(await primary.isStandby(), false, 'positive control: the primary is not');
        // LISTEN is refused there: the listener gives up (closing its connection) instead of hanging.
        let calls = 0;
        const unlisten = await db.listen('seedcore_tasks', () => calls++);
        assert.equal(await db.notificationsWork(), false);
        assert.equal(await primary.notificationsWork(), true);
        await unlisten();
        const listeners = await primary.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE '%-listen' AND datname = 'seedcore_standby'",
        );
        assert.equal(listeners.rows[0]?.n, 1, 'only the primary keeps a listener connection');
        assert.equal(calls, 0);
      } finally {
        await db.close();
        await primary.close();
      }
    });

    it('read commands work: status, verify, tasks list/get/stats, facts search, graph counts and export, registry list', async () => {
      const run = async (args: string[]): Promise<string> => {
        const r = await runCli(['--database-url', standbyUrl, ...args]);
        assert.equal(r.code, 0, `seedcore ${args.join(' ')} failed on the standby (${r.code}): ${r.stderr}`);
        return r.stdout;
      };
      assert.match(await run(['status']), /applied/);
      await run(['verify']);
      assert.match(await run(['tasks', 'list']), new RegExp(taskId.slice(0, 8)));
      assert.match(await run(['tasks', 'get', taskId]), /made on the primary/);
      await run(['tasks', 'stats']);
      assert.match(await run(['facts', 'search', 'standbys']), /replay the primary/);
      await run(['graph', 'counts']);
      const out = join(dir, 'edges.csv');
      await run(['graph', 'export', '--format', 'edgelist', '--out', out]);
      assert.ok(existsSync(out), 'the edge list was written');
      await run(['registry', 'list']);
    });

    it('a write command fails at once with the read-only message (no hang)', async () => {
      const t0 = Date.now();
      const r = await runCli(['--database-url', standbyUrl, 'submit', 'noop'], {}, 30_000);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /read-only/);
      assert.ok(Date.now() - t0 < 20_000);
    });

    for (const background of [true, false]) {
      it(`serve${background ? '' : ' --no-background'} serves reads, refuses writes, and stops on SIGTERM`, async () => {
        const port = await freePort();
        const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info' };
        delete env.DATABASE_URL;
        const args = [BIN, '--database-url', standbyUrl, 'serve', '--port', String(port), ...(background ? [] : ['--no-background'])];
        const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (out += b.toString()));
        const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
        try {
          await waitFor('serve started', () => out.includes('seedcore serve started') || child.exitCode !== null, 60_000, 50);
          assert.equal(child.exitCode, null, `serve exited:\n${out}`);
          assert.match(out, /read-only standby: serving reads only/);
          assert.match(out, /"standby":true/);
          const list = await fetch(`http://127.0.0.1:${port}/api/tasks`);
          assert.equal(list.status, 200);
          assert.match(await list.text(), new RegExp(taskId));
          const post = await fetch(`http://127.0.0.1:${port}/api/tasks`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'noop' }),
          });
          assert.notEqual(post.status, 201, 'a write is refused');
          await post.arrayBuffer();
          child.kill('SIGTERM');
          assert.equal(await exited, 0, `serve exit code:\n${out.slice(-3000)}`);
        } finally {
          if (child.exitCode === null) child.kill('SIGKILL');
        }
      });
    }
  },
);
