/**
 * The host set-up the partition test's cases share: a topology of worker hosts in network
 * namespaces (netns.ts) with a migrated scratch cluster, `seedcore worker` processes started
 * in each namespace with the journaling handlers of partition-handlers.ts, and the reading of
 * their journals into executions.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PostgresDb } from '../../src/db/index.js';
import { migrate } from '../../src/migrate/runner.js';
import type { JournalLine } from './partition-handlers.js';
import { setUp, type Topology } from './netns.js';
import { BIN, ROOT, waitForLog, type Proc } from './procs.js';

const HANDLERS = join(ROOT, 'dist/test/helpers/partition-handlers.js');

export interface PartitionHosts {
  topo: Topology;
  /** The scratch cluster, from outside the namespaces. */
  db: PostgresDb;
  /** The worker processes, one per host in host order (empty while none run). */
  readonly workers: Proc[];
  /** One `seedcore worker` per host (types slow and quick), journaling into `dir`; waits until each is ready. */
  startWorkers(dir: string, extra: string[]): Promise<void>;
  /** SIGKILL every worker still running and wait for their exits. */
  stopWorkers(): Promise<void>;
  /** Which host runs the worker whose registry pid is `pid`. */
  hostOf(pid: number): number;
  /** Stop the workers, close the database, remove the namespaces and the cluster. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** `ip netns exec` execs the command in place, but look at children too in case it forks. */
function readChildPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** `hostCount` hosts on a bridge and a migrated scratch cluster on a free port. */
export async function partitionHosts(hostCount: number): Promise<PartitionHosts> {
  const topo = setUp(hostCount, await freePort());
  let workers: Proc[] = [];
  let db: PostgresDb | undefined;
  const stopWorkers = async (): Promise<void> => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    workers = [];
  };
  try {
    db = await PostgresDb.open({ databaseUrl: topo.localUrl, poolSize: 4 });
    await migrate(db);
  } catch (e) {
    await db?.close().catch(() => undefined);
    topo.teardown();
    throw e;
  }
  const opened = db;
  return {
    topo,
    db: opened,
    get workers() {
      return workers;
    },
    async startWorkers(dir, extra) {
      workers = topo.hosts.map((h) => {
        const child = spawn(
          'ip',
          ['netns', 'exec', h.ns, process.execPath, BIN, '--database-url', topo.url, 'worker', '--handlers', HANDLERS, '--types', 'slow,quick', ...extra],
          { cwd: ROOT, env: { ...process.env, SEEDCORE_TEST_JOURNAL_DIR: dir }, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let err = '';
        child.stderr?.on('data', (b: Buffer) => {
          err += b.toString();
          if (err.length > 400_000) err = err.slice(-200_000);
        });
        const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        return { child, pid: child.pid as number, stderr: () => err, exited };
      });
      for (const w of workers) await waitForLog(w, 'worker ready', 30_000);
    },
    stopWorkers,
    hostOf(pid) {
      const i = workers.findIndex((w) => w.pid === pid || readChildPids(w.pid).includes(pid));
      assert.ok(i >= 0, `no worker host has pid ${pid}`);
      return i;
    },
    async close() {
      await stopWorkers().catch(() => undefined);
      await opened.close().catch(() => undefined);
      topo.teardown();
    },
  };
}

/** Every line the workers' handlers journaled into `dir`. */
export function journal(dir: string): JournalLine[] {
  const lines: JournalLine[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.jsonl')) continue;
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as JournalLine);
  }
  return lines;
}

export interface Execution {
  owner: string;
  pid: number;
  start: number;
  end: number;
  aborted: boolean;
}

/** Executions per task as [start, end] intervals (an unfinished one ends now). */
export function executions(lines: JournalLine[]): Map<string, Execution[]> {
  const open = new Map<string, JournalLine>();
  const out = new Map<string, Execution[]>();
  const key = (l: JournalLine) => `${l.id}/${l.pid}/${l.owner}`;
  for (const l of [...lines].sort((a, b) => a.at - b.at)) {
    if (l.e === 'start') open.set(key(l), l);
    else {
      const s = open.get(key(l));
      open.delete(key(l));
      if (!s) continue;
      const list = out.get(l.id) ?? [];
      list.push({ owner: l.owner, pid: l.pid, start: s.at, end: l.at, aborted: l.aborted === true });
      out.set(l.id, list);
    }
  }
  for (const s of open.values()) {
    const list = out.get(s.id) ?? [];
    list.push({ owner: s.owner, pid: s.pid, start: s.at, end: Date.now(), aborted: false });
    out.set(s.id, list);
  }
  return out;
}

/**
 * How many tasks ran more than once, and how many pairs of consecutive executions of one task
 * overlap in time (each printed). Sorts each task's executions by start.
 */
export function overlapsAndReruns(runs: Map<string, Execution[]>): { overlaps: number; reruns: number } {
  let overlaps = 0;
  let reruns = 0;
  for (const [id, list] of runs) {
    list.sort((a, b) => a.start - b.start);
    if (list.length > 1) reruns++;
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1] as Execution;
      const cur = list[i] as Execution;
      if (cur.start < prev.end) {
        overlaps++;
        console.error(`task ${id}: ${prev.owner} until ${prev.end}, ${cur.owner} from ${cur.start} (${prev.end - cur.start} ms overlap)`);
      }
    }
  }
  return { overlaps, reruns };
}

/** The instance that runs the most tasks now, with its count and its process id. */
export async function busiestOwner(db: PostgresDb): Promise<{ owner_id: string; n: number; pid: number }> {
  const owners = await db.query<{ owner_id: string; n: number; pid: number }>(
    `SELECT t.owner_id, count(*)::int AS n, ri.pid FROM tasks t JOIN registry_instance ri ON ri.instance_id::text = t.owner_id
      WHERE t.status = 'running' GROUP BY t.owner_id, ri.pid ORDER BY n DESC LIMIT 1`,
  );
  const victim = owners.rows[0];
  assert.ok(victim && victim.n > 0);
  return victim;
}
