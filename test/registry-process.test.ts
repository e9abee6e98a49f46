/**
 * Real processes against the server: SIGKILL, SIGSTOP/SIGCONT and SIGTERM of a process that
 * holds a registry membership. Server only: PGlite is one in-process database, so another
 * process cannot share it (only one process may open a data directory).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresDb } from '../src/db/index.js';
import { RegistryClient, lookup, startReconciler } from '../src/registry/index.js';
import { freshDb, SERVER_URL, type TestDb } from './helpers/db.js';
import { waitFor } from './helpers/wait.js';

const CHILD = fileURLToPath(new URL('./fixtures/registry-child.js', import.meta.url));
const LIVENESS = 3;

interface Child {
  proc: ChildProcess;
  events: Record<string, unknown>[];
}

function spawnChild(url: string, logicalId: string): Child {
  const proc = spawn(process.execPath, [CHILD], {
    env: { ...process.env, DATABASE_URL: url, LOGICAL_ID: logicalId, HB_BASE_MS: '400', HB_JITTER_MS: '100' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Record<string, unknown>[] = [];
  let buf = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
  });
  return { proc, events };
}

const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r())));

describe('registry processes (postgres)', { skip: SERVER_URL ? false : 'needs DATABASE_URL: PGlite cannot be shared between processes' }, () => {
  let t: TestDb;
  const children: ChildProcess[] = [];
  before(async () => {
    t = await freshDb('postgres');
    // A short window keeps the test fast; the promises scale with it (15 s by default).
    await t.db.query('INSERT INTO cluster_metadata (id, current_epoch, liveness_seconds) VALUES (1, gen_random_uuid(), $1)', [LIVENESS]);
  });
  after(async () => {
    for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await t.cleanup();
  });

  const statusOf = async (id: string) =>
    (await t.db.query<{ status: string }>('SELECT status::text FROM registry_instance WHERE instance_id = $1', [id])).rows[0]?.status;

  it('SIGKILL: gone from active_instances within the window (< 15 s), dead soon after via the reconciler', async () => {
    const c = spawnChild(t.url as string, 'killed');
    children.push(c.proc);
    const reg = await waitFor('child registration', () => c.events.find((e) => e.event === 'registered'), 10_000, 50);
    const id = reg.instanceId as string;
    assert.equal((await lookup(t.db, 'killed'))?.instance_id, id);
    const killedAt = Date.now();
    c.proc.kill('SIGKILL');
    await waitFor('instance to leave active_instances', async () => (await lookup(t.db, 'killed')) === null, 15_000, 50);
    const goneAfter = Date.now() - killedAt;
    assert.ok(goneAfter < 15_000, `gone after ${goneAfter} ms`);
    const stop = startReconciler(t.db, { intervalMs: 250 });
    try {
      await waitFor('reconciler to mark the instance dead', async () => (await statusOf(id)) === 'dead', 10_000, 50);
    } finally {
      await stop();
    }
  });

  it('SIGSTOP longer than the window, then SIGCONT: the process finds itself fenced and re-registers', async () => {
    const c = spawnChild(t.url as string, 'paused');
    children.push(c.proc);
    const reg = await waitFor('child registration', () => c.events.find((e) => e.event === 'registered'), 10_000, 50);
    const oldId = reg.instanceId as string;
    c.proc.kill('SIGSTOP');
    // The pause under test: longer than the liveness window, so the database stops serving it.
    await sleep((LIVENESS + 1.5) * 1000);
    assert.equal(await lookup(t.db, 'paused'), null, 'a paused process is not served');
    c.proc.kill('SIGCONT');
    const fenced = await waitFor('child to report fencing', () => c.events.find((e) => e.event === 'fenced'), 10_000, 50);
    assert.equal(fenced.instanceId, oldId);
    const again = await waitFor('re-registration', () => c.events.find((e) => e.event === 'registered' && e.previousInstanceId === oldId), 10_000, 50);
    const newId = again.instanceId as string;
    assert.notEqual(newId, oldId);
    assert.equal(await statusOf(oldId), 'dead', 'the old instance was never revived');
    const rows = await t.db.query<{ instance_id: string; status: string; pid: number }>(
      "SELECT instance_id, status::text, pid FROM registry_instance WHERE logical_id = 'paused' ORDER BY started_at",
    );
    assert.deepEqual(
      rows.rows.map((r) => [r.instance_id, r.status, r.pid]),
      [
        [oldId, 'dead', c.proc.pid],
        [newId, 'alive', c.proc.pid],
      ],
    );
    assert.equal((await lookup(t.db, 'paused'))?.instance_id, newId);
  });

  it('SIGTERM: the process goes draining → dead and exits', async () => {
    const c = spawnChild(t.url as string, 'terminated');
    children.push(c.proc);
    const reg = await waitFor('child registration', () => c.events.find((e) => e.event === 'registered'), 10_000, 50);
    c.proc.kill('SIGTERM');
    await exited(c.proc);
    assert.equal(c.proc.signalCode ?? c.proc.exitCode, 'SIGTERM');
    const r = await t.db.query<{ status: string; stopped_at: Date | null }>('SELECT status::text, stopped_at FROM registry_instance WHERE instance_id = $1', [
      reg.instanceId,
    ]);
    assert.equal(r.rows[0]?.status, 'dead');
    assert.ok(r.rows[0]?.stopped_at);
    assert.ok(c.events.some((e) => e.event === 'closed'));
  });

  it('database unreachable: beats fail with backoff, the client keeps running and resumes as the same instance', async () => {
    const own = await PostgresDb.open({ databaseUrl: t.url as string, poolSize: 1, applicationName: 'registry-outage' });
    const dbName = new URL(t.url as string).pathname.slice(1);
    const c = new RegistryClient(own, {
      logicalId: 'outage',
      heartbeatBaseMs: 100,
      heartbeatJitterMs: 0,
      backoffMinMs: 50,
      backoffMaxMs: 200,
      logger: { info: () => undefined, warn: () => undefined },
    });
    const errors: unknown[] = [];
    c.on('error', (e) => errors.push(e));
    // ALLOW_CONNECTIONS cannot be changed from inside the database itself.
    const admin = new pg.Client({ connectionString: SERVER_URL });
    await admin.connect();
    try {
      const id = await c.start();
      await waitFor('beats', () => c.beatCount >= 2, 5000, 50);
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
      await t.db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'registry-outage'");
      await waitFor('failed beats to be reported', () => errors.length >= 2, 5000, 50);
      const beatsDuringOutage = c.beatCount;
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
      await waitFor('beats to resume', () => c.beatCount >= beatsDuringOutage + 2, 5000, 50);
      assert.equal(c.instanceId, id, 'an outage shorter than the window does not fence');
      assert.equal((await lookup(t.db, 'outage'))?.instance_id, id);
    } finally {
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
      await admin.end();
      await c.close();
      await own.close();
    }
  });
});
