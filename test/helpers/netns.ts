/**
 * Network namespaces for partition tests: worker "hosts" on a bridge in 10.231.0.0/24, and a
 * scratch PostgreSQL cluster listening on the bridge address 10.231.0.1. Everything made here is
 * removed by `teardown()`, which is safe to call after a partial setup.
 *
 * Needs root, `ip` and `bridge` (iproute2) and the PostgreSQL server binaries; `unavailable()` says why not.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BRIDGE = 'sctbr0';
export const BRIDGE_IP = '10.231.0.1';

const PG_BIN = ['/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/17/bin'].find((d) => existsSync(join(d, 'initdb')));

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore' });
}

/** Why this machine cannot run the partition test, or null when it can. */
export function unavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return "the 'ip' command (iproute2) is missing";
  if (spawnSync('bridge', ['-V'], { stdio: 'ignore' }).status !== 0) return "the 'bridge' command (iproute2) is missing";
  if (!PG_BIN) return 'no PostgreSQL server binaries (initdb) under /usr/lib/postgresql';
  if (spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status !== 0) return "no 'postgres' system user to run a scratch cluster";
  const probe = 'sct-probe';
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot create a network namespace: ${(r.stderr || '').trim()}`;
  quiet('ip', ['netns', 'del', probe]);
  return null;
}

export interface Host {
  ns: string;
  ip: string;
  /** The veth end in the root namespace; taking it down drops the host's packets silently. */
  outerLink: string;
}

export interface Topology {
  hosts: Host[];
  /** Base URL of the scratch cluster from inside the namespaces (database `seedcore`). */
  url: string;
  /** The same cluster from the root namespace (loopback). */
  localUrl: string;
  /** Cut a host off: its packets are dropped without an error (like a failed route). */
  cut(i: number): void;
  heal(i: number): void;
  /**
   * Blackhole a host: the bridge stops forwarding its port (port state disabled), so its packets
   * vanish while its own link stays up with carrier and its routes in place. Nothing tells the
   * host (no RST, no ICMP, no link event): only timeouts can.
   */
  blackhole(i: number): void;
  /** Forward the host's port again after blackhole(). */
  unblackhole(i: number): void;
  /** Whether the host's own interface is up with carrier (it stays so during a blackhole). */
  linkUp(i: number): boolean;
  teardown(): void;
}

export function setUp(hostCount: number, port: number): Topology {
  const hosts: Host[] = [];
  let pgDir: string | undefined;
  const teardown = (): void => {
    if (pgDir) {
      quiet('runuser', ['-u', 'postgres', '--', join(PG_BIN as string, 'pg_ctl'), '-D', join(pgDir, 'data'), '-m', 'immediate', 'stop']);
      rmSync(pgDir, { recursive: true, force: true });
      pgDir = undefined;
    }
    for (let i = 1; i <= hostCount; i++) {
      quiet('ip', ['netns', 'del', `sct-h${i}`]);
      quiet('ip', ['link', 'del', `sct-v${i}`]);
    }
    quiet('ip', ['link', 'del', BRIDGE]);
  };
  teardown();
  try {
    sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${BRIDGE_IP}/24`, 'dev', BRIDGE]);
    sh('ip', ['link', 'set', BRIDGE, 'up']);
    for (let i = 1; i <= hostCount; i++) {
      const ns = `sct-h${i}`;
      const outer = `sct-v${i}`;
      const inner = `sct-p${i}`;
      const ip = `10.231.0.${10 + i}`;
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
      sh('ip', ['link', 'set', inner, 'netns', ns]);
      sh('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', inner]);
      sh('ip', ['-n', ns, 'link', 'set', inner, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['link', 'set', outer, 'master', BRIDGE]);
      sh('ip', ['link', 'set', outer, 'up']);
      hosts.push({ ns, ip, outerLink: outer });
    }
    pgDir = mkdtempSync(join(tmpdir(), 'sct-pg-'));
    chownSync(pgDir, Number(sh('id', ['-u', 'postgres']).trim()), Number(sh('id', ['-g', 'postgres']).trim()));
    const asPostgres = (bin: string, args: string[]): string => sh('runuser', ['-u', 'postgres', '--', join(PG_BIN as string, bin), ...args]);
    asPostgres('initdb', ['-D', join(pgDir, 'data'), '-U', 'seedcore', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const settings = [
      `listen_addresses='${BRIDGE_IP},127.0.0.1'`,
      `port=${port}`,
      `unix_socket_directories='${pgDir}'`,
      'max_connections=200',
      'fsync=off',
      'synchronous_commit=off',
      // The server notices a vanished client within ~15 s instead of hours.
      'tcp_keepalives_idle=5',
      'tcp_keepalives_interval=2',
      'tcp_keepalives_count=3',
    ];
    asPostgres('pg_ctl', ['-D', join(pgDir, 'data'), '-l', join(pgDir, 'log'), '-w', '-o', settings.map((s) => `-c ${s}`).join(' '), 'start']);
    // initdb --auth=trust allows local and loopback; the bridge network needs its own line.
    sh('sh', ['-c', `echo 'host all all 10.231.0.0/24 trust' >> ${join(pgDir, 'data', 'pg_hba.conf')}`]);
    asPostgres('pg_ctl', ['-D', join(pgDir, 'data'), 'reload']);
    sh('runuser', [
      '-u',
      'postgres',
      '--',
      join(PG_BIN as string, 'psql'),
      '-h',
      pgDir,
      '-p',
      String(port),
      '-U',
      'seedcore',
      '-d',
      'postgres',
      '-qc',
      'CREATE DATABASE seedcore',
    ]);
  } catch (e) {
    teardown();
    throw e;
  }
  return {
    hosts,
    url: `postgres://seedcore@${BRIDGE_IP}:${port}/seedcore`,
    localUrl: `postgres://seedcore@127.0.0.1:${port}/seedcore`,
    cut: (i) => sh('ip', ['link', 'set', (hosts[i] as Host).outerLink, 'down']),
    heal: (i) => sh('ip', ['link', 'set', (hosts[i] as Host).outerLink, 'up']),
    blackhole: (i) => sh('bridge', ['link', 'set', 'dev', (hosts[i] as Host).outerLink, 'state', '0']),
    unblackhole: (i) => sh('bridge', ['link', 'set', 'dev', (hosts[i] as Host).outerLink, 'state', '3']),
    linkUp: (i) => {
      const h = hosts[i] as Host;
      const line = sh('ip', ['-n', h.ns, '-o', 'link', 'show', `sct-p${i + 1}`]);
      return /[<,]UP[,>]/.test(line) && line.includes('LOWER_UP') && / state UP /.test(line);
    },
    teardown,
  };
}
