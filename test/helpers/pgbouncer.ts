/**
 * A real PgBouncer (the Debian package) in transaction pooling mode in front of the test
 * server, on a free port with its own ini, userlist and log in a temporary directory: what
 * managed PostgreSQL (Supabase, Neon, …) hands out by default. Used by the topology tests and
 * by bench/queue.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

export interface PgBouncer {
  port: number;
  /** `serverUrl` with host and port replaced by PgBouncer's (same user, password, database). */
  url(serverUrl: string): string;
  /** PgBouncer's own log so far (warnings such as `got packet 'A' from server when not linked`). */
  log(): string;
  stop(): Promise<void>;
}

export function pgbouncerBinary(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `pgbouncer is not installed (looked in ${CANDIDATES.join(', ')}): install it with \`apt-get install -y pgbouncer\` (Debian) to run these tests`,
    );
  return found;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function posixUid(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export interface PgBouncerOptions {
  /** Server connections per database/user pair. @defaultValue 20 */
  poolSize?: number;
}

/** Start PgBouncer in front of the server `serverUrl` points at (any database on it). */
export async function startPgBouncer(serverUrl: string, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const bin = pgbouncerBinary();
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'seedcore-pgbouncer-'));
  const logFile = join(dir, 'pgbouncer.log');
  const ini = [
    '[databases]',
    `* = host=${server.hostname} port=${server.port || '5432'}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = md5',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${options.poolSize ?? 20}`,
    'max_client_conn = 1000',
    `logfile = ${logFile}`,
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    // node-postgres sends none of these by default; listed so a client that does still connects.
    'ignore_startup_parameters = extra_float_digits',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), ini);
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" "${password}"\n`);
  writeFileSync(logFile, '');
  // PgBouncer refuses to run as root; drop to the postgres user (CI runs as root).
  const args: string[] = [];
  if (process.getuid?.() === 0) {
    const pgUser = posixUid('postgres');
    if (!pgUser) throw new Error('running as root but there is no postgres user for pgbouncer to run as');
    for (const f of ['', 'pgbouncer.ini', 'userlist.txt', 'pgbouncer.log']) chownSync(join(dir, f), pgUser.uid, pgUser.gid);
    args.push('-u', 'postgres');
  }
  const child: ChildProcess = spawn(bin, [...args, join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8') + out;
    } catch {
      return out;
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = (target: string): string => {
    const u = new URL(target);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };
  // Ready when a query goes through.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = readLog();
      await stop();
      throw new Error(`pgbouncer exited (${child.exitCode}) at start:\n${log}`);
    }
    const c = new pg.Client({ connectionString: url(serverUrl), connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch (e) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) {
        const log = readLog();
        await stop();
        throw new Error(`pgbouncer did not accept connections within 10 s: ${(e as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, url, log: readLog, stop };
}
