/**
 * Everything through a real PgBouncer in transaction pooling mode (Debian's package, started
 * on a free port) with DATABASE_URL pointing at it and no other setting: worker processes,
 * `seedcore submit`, `seedcore serve` and the registry. Named prepared statements and LISTEN on
 * a pooled connection used to break here (statements "already exist", wake-ups never came).
 * Server only: PgBouncer fronts a PostgreSQL server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { PostgresDb } from '../src/db/index.js';
import { PROBE_WAIT_MS } from '../src/db/listener.js';
import { Dispatcher } from '../src/tasks/dispatcher.js';
import { openSeedCore } from '../src/seedcore.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { setQueueLimit } from '../src/tasks/queues.js';
import { buildServer } from '../src/server/app.js';
import { runCli } from './helpers/cli.js';
import { SERVER_URL, freshDb, type TestDb } from './helpers/db.js';
import { freePort, startPgBouncer, type PgBouncer } from './helpers/pgbouncer.js';
import { BIN, JOURNALED_HANDLERS, spawnSeedcore, waitForLog, type Proc } from './helpers/procs.js';
import { openEventStream } from './helpers/server.js';
import { waitFor } from './helpers/tasks.js';

const TASKS = 5000;
const POLLING = 'notifications do not arrive; relying on polling';

/** JSON log lines at error level or above, and the warnings that mean lost work. */
function badLines(log: string): string[] {
  return log.split('\n').filter((l) => /"level":(50|60)/.test(l) || /prepared statement|task lost|task attempt failed|outcome discarded/i.test(l));
}

function startWorker(url: string): Proc {
  return spawnSeedcore([
    '--database-url',
    url,
    'worker',
    '--handlers',
    JOURNALED_HANDLERS,
    '--types',
    'journaled',
    '--queues',
    'default,limited',
    '--concurrency',
    '4',
    '--prefetch',
    '8',
    '--lease-seconds',
    '30',
    '--poll-ms',
    '100',
  ]);
}

/**
 * A child process that drains `tasks` tasks through `url` with a dispatcher, waits `settleMs`
 * (its subscriptions land; the probe still waits), stops the dispatcher, closes the database
 * and prints what it measured as one JSON line. Its own process, so that the handles left
 * after close() are its own and its exit shows nothing keeps it alive.
 */
const LEAK_CHECK = `
const [{ PostgresDb }, { Dispatcher }, { TaskCoordinator }] = await Promise.all([
  import(process.env.DB_MODULE), import(process.env.DISPATCHER_MODULE), import(process.env.COORDINATOR_MODULE),
]);
const tasks = Number(process.env.TASKS);
const db = await PostgresDb.open({ databaseUrl: process.env.URL, poolSize: 2, log: { warn: () => undefined } });
await new TaskCoordinator(db).submitMany(Array.from({ length: tasks }, () => ({ type: 'leak_check' })));
let ran = 0, allRan;
const done = new Promise((r) => (allRan = r));
const d = new Dispatcher(db, { handlers: { leak_check: async () => (++ran === tasks && allRan(), null) }, recoverDeadOwners: false, schedules: false });
let verdict;
void db.notificationsWork().then((v) => (verdict = v));
await d.start();
await done;
await new Promise((r) => setTimeout(r, Number(process.env.SETTLE_MS)));
const kinds = () => process.getActiveResourcesInfo().filter((k) => k === 'Timeout' || k === 'TCPSocketWrap');
const pendingAtStop = verdict === undefined;
const s0 = performance.now();
await d.stop();
const stopMs = performance.now() - s0;
const beforeClose = kinds();
await db.close();
const closedAt = Date.now();
// A socket ended by close() is released by the event loop shortly after.
for (let i = 0; i < 50 && kinds().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
process.stdout.write(JSON.stringify({ ran, pendingAtStop, stopMs, beforeClose, afterClose: kinds(), closedAt, releasedAt: Date.now() }) + '\\n');
`;

interface LeakCheck {
  ran: number;
  pendingAtStop: boolean;
  stopMs: number;
  beforeClose: string[];
  afterClose: string[];
  closedAt: number;
  releasedAt: number;
  exitedAt: number;
  code: number | null;
  stderr: string;
}

function leakCheck(url: string, tasks: number, settleMs: number): Promise<LeakCheck> {
  const mod = (path: string): string => new URL(path, import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', LEAK_CHECK], {
    env: {
      ...process.env,
      URL: url,
      TASKS: String(tasks),
      SETTLE_MS: String(settleMs),
      DB_MODULE: mod('../src/db/index.js'),
      DISPATCHER_MODULE: mod('../src/tasks/dispatcher.js'),
      COORDINATOR_MODULE: mod('../src/tasks/coordinator.js'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      const exitedAt = Date.now();
      const line = out.trim().split('\n').pop() ?? '';
      const parsed = line.startsWith('{') ? (JSON.parse(line) as Omit<LeakCheck, 'exitedAt' | 'code' | 'stderr'>) : undefined;
      resolve({
        ran: -1,
        pendingAtStop: false,
        stopMs: NaN,
        beforeClose: [],
        afterClose: [],
        closedAt: NaN,
        releasedAt: NaN,
        ...parsed,
        exitedAt,
        code,
        stderr: err + out,
      });
    });
  });
}

describe('topology: through PgBouncer in transaction mode (postgres)', { skip: SERVER_URL ? false : 'needs DATABASE_URL (PgBouncer fronts a server)' }, () => {
  let t: TestDb;
  let bouncer: PgBouncer;
  let url: string;
  let db: PostgresDb;
  const workers: Proc[] = [];
  before(async () => {
    t = await freshDb('postgres');
    await t.db.exec(`CREATE TABLE test_executions (id bigserial PRIMARY KEY, task_id uuid NOT NULL, pid int NOT NULL, owner text NOT NULL,
                                                started_at timestamptz NOT NULL, finished_at timestamptz)`);
    bouncer = await startPgBouncer(t.url as string);
    url = bouncer.url(t.url as string);
    db = await PostgresDb.open({ databaseUrl: url, poolSize: 4, log: { warn: () => undefined } });
    // Set before the workers start, so each learns at once that the queue is limited.
    await setQueueLimit(db, 'limited', 3);
    for (let i = 0; i < 4; i++) workers.push(startWorker(url));
    await Promise.all(workers.map((w) => waitForLog(w, 'worker ready', 60_000)));
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await db?.close();
    await bouncer?.stop();
    await t?.cleanup();
  });

  it('4 worker processes drain 5,000 tasks: none failed, none executed twice, no errors logged', async (ctx) => {
    const c = new TaskCoordinator(db);
    const started = Date.now();
    for (let i = 0; i < TASKS; i += 1000) await c.submitMany(Array.from({ length: 1000 }, () => ({ type: 'journaled', params: { ms: 2 } })));
    const counts = async (): Promise<Record<string, number>> => {
      const r = await db.query<{ status: string; n: number }>(
        "SELECT status::text AS status, count(*)::int AS n FROM tasks WHERE type = 'journaled' GROUP BY 1",
      );
      return Object.fromEntries(r.rows.map((x) => [x.status, x.n]));
    };
    await waitFor('all 5,000 completed', async () => ((await counts()).completed ?? 0) >= TASKS, 80_000, 200);
    ctx.diagnostic(`drained ${TASKS} tasks through PgBouncer in ${Date.now() - started} ms`);
    assert.deepEqual(await counts(), { completed: TASKS });
    const twice = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT task_id FROM test_executions GROUP BY task_id HAVING count(*) > 1) x');
    assert.equal(twice.rows[0]?.n, 0, 'no task executed twice');
    const once = await db.query<{ n: number }>('SELECT count(DISTINCT task_id)::int AS n FROM test_executions');
    assert.equal(once.rows[0]?.n, TASKS, 'every task executed');
    for (const w of workers) {
      assert.deepEqual(badLines(w.stderr()), [], `worker ${w.pid} logged errors`);
      // Positive control: each worker found out by itself that notifications do not come, once.
      assert.equal(w.stderr().split(POLLING).length - 1, 1, `worker ${w.pid} says once that it relies on polling:\n${w.stderr().slice(-2000)}`);
    }
  });

  it('a queue limit of 3 is honoured and drains at normal speed', async () => {
    const c = new TaskCoordinator(db);
    const ids = (await c.submitMany(Array.from({ length: 30 }, () => ({ type: 'journaled', queue: 'limited', params: { ms: 150 } })))).map((x) => x.id);
    const t0 = Date.now();
    await waitFor(
      '30 limited tasks completed',
      async () =>
        (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::uuid[]) AND status = 'completed'", [ids])).rows[0]?.n === 30,
      30_000,
      50,
    );
    const elapsed = Date.now() - t0;
    // 30 × 150 ms / 3 at once = 1.5 s of work; the bug drained 3 tasks per 30 s.
    assert.ok(elapsed < 15_000, `30 tasks of a queue limited to 3 took ${elapsed} ms`);
    const overlap = await db.query<{ n: number }>(
      `SELECT max(c)::int AS n FROM (
         SELECT (SELECT count(*) FROM test_executions o WHERE o.task_id = ANY($1::uuid[]) AND o.started_at <= e.started_at AND o.finished_at > e.started_at) AS c
           FROM test_executions e WHERE e.task_id = ANY($1::uuid[])) x`,
      [ids],
    );
    const peak = overlap.rows[0]?.n ?? 0;
    assert.ok(peak <= 3, `at most 3 ran at once (peak ${peak})`);
    assert.ok(peak >= 2, `the limit, not a single worker, paced them (peak ${peak})`);
  });

  it('`seedcore submit` works 6 times out of 6', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await runCli(['--database-url', url, '--json', 'submit', 'journaled', '--params', '{"ms":1}']);
      assert.equal(r.code, 0, `submit #${i + 1} failed: ${r.stderr}`);
      ids.push((JSON.parse(r.stdout) as { id: string }).id);
    }
    await waitFor(
      'the submitted tasks completed',
      async () =>
        (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::uuid[]) AND status = 'completed'", [ids])).rows[0]?.n === 6,
      20_000,
      50,
    );
  });

  it('`seedcore serve` answers 100 × POST /api/tasks without a 500, and stops cleanly', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info' };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, [BIN, '--database-url', url, 'serve', '--port', String(port), '--no-demo'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor('serve started', () => out.includes('seedcore serve started') || child.exitCode !== null, 60_000, 50);
      assert.equal(child.exitCode, null, `serve exited:\n${out}`);
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/api/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'noop', params: { i } }),
        });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      assert.deepEqual(
        statuses.filter((s) => s !== 201),
        [],
        'every POST answered 201',
      );
      // The in-process dispatcher runs the built-in noop handler: they complete.
      await waitFor(
        'noop tasks completed by serve',
        async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE type = 'noop' AND status = 'completed'")).rows[0]?.n === 100,
        30_000,
        100,
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0, `serve exit code:\n${out.slice(-3000)}`);
      assert.deepEqual(badLines(out), [], 'serve logged errors');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('registry: register, heartbeat, lookup', async () => {
    const sc = await openSeedCore({ databaseUrl: url, migrate: false, log: { warn: () => undefined } });
    try {
      const client = sc.registry.client({
        logicalId: 'through-pgbouncer',
        heartbeatBaseMs: 50,
        heartbeatJitterMs: 0,
        logger: { info: () => undefined, warn: () => undefined },
      });
      const id = await client.start();
      const beat = async (): Promise<number> =>
        (await db.query<{ t: Date }>('SELECT last_heartbeat AS t FROM registry_instance WHERE instance_id = $1', [id])).rows[0]?.t.getTime() ?? 0;
      const first = await beat();
      await waitFor('a later heartbeat', async () => (await beat()) > first, 10_000, 25);
      assert.equal((await sc.registry.lookup('through-pgbouncer'))?.instance_id, id);
    } finally {
      await sc.close();
    }
  });

  it('with a direct listen URL notifications work through the pooler, and survive a dropped listener connection', async () => {
    const direct = await PostgresDb.open({ databaseUrl: url, listenUrl: t.url as string, poolSize: 2 });
    try {
      const got: string[] = [];
      await direct.listen('topology_wake', (p) => got.push(p));
      assert.equal(await direct.notificationsWork(), true);
      await db.query("SELECT pg_notify('topology_wake', 'one')");
      await waitFor('the first notification', () => got.includes('one'), 5000, 10);
      // Cut the listener's connection from the server side: it reconnects and re-subscribes.
      const killed = await t.db.query<{ n: number }>(
        "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'seedcore-listen' AND datname = current_database()",
      );
      assert.equal(killed.rows[0]?.n, 1, 'one direct listener connection');
      await waitFor(
        'a notification after the reconnect',
        async () => {
          await db.query("SELECT pg_notify('topology_wake', 'two')");
          return got.includes('two');
        },
        15_000,
        200,
      );
      assert.equal(await direct.notificationsWork(), true);
    } finally {
      await direct.close();
    }
  });

  it('a worker claims at once instead of waiting for the notification probe, and stop() right after start() does not wait for it', async () => {
    const quiet = { warn: () => undefined };
    // A fresh database handle: its listener probes again (behind the pooler nothing arrives).
    const own = await PostgresDb.open({ databaseUrl: url, poolSize: 2, log: quiet });
    try {
      await new TaskCoordinator(own).submit({ type: 'topology_startup' });
      let ranAt = 0;
      // A long poll interval: only the claim made by start() itself can find the task in time.
      const d = new Dispatcher(own, {
        handlers: { topology_startup: async () => ((ranAt = performance.now()), null) },
        pollIntervalMs: 60_000,
        recoverDeadOwners: false,
        schedules: false,
      });
      const t0 = performance.now();
      await d.start();
      const startMs = performance.now() - t0;
      const verdict = own.notificationsWork().then((works) => ({ works, at: performance.now() }));
      await waitFor('the task ran', () => ranAt > 0, 10_000, 5);
      const { works, at } = await verdict;
      await d.stop();
      // Positive control: the probe really waited its full time for a NOTIFY that never came.
      assert.equal(works, false);
      assert.ok(at - t0 >= PROBE_WAIT_MS * 0.9, `the probe gave up after ${Math.round(at - t0)} ms`);
      assert.ok(startMs < PROBE_WAIT_MS / 2, `start() took ${Math.round(startMs)} ms`);
      assert.ok(ranAt < at, `the task ran ${Math.round(ranAt - t0)} ms after start(), before the probe gave up (${Math.round(at - t0)} ms)`);
    } finally {
      await own.close();
    }
    const other = await PostgresDb.open({ databaseUrl: url, poolSize: 2, log: quiet });
    try {
      const d = new Dispatcher(other, { handlers: { topology_startup: async () => null }, recoverDeadOwners: false, schedules: false });
      await d.start();
      const s0 = performance.now();
      await d.stop();
      const stopMs = performance.now() - s0;
      assert.ok(stopMs < PROBE_WAIT_MS / 2, `stop() with its subscriptions still pending took ${Math.round(stopMs)} ms`);
      assert.equal(await other.notificationsWork(), false);
    } finally {
      await other.close();
    }
  });

  it('stop() after the subscriptions landed does not wait for the probe; close() leaves no socket or timer behind', async () => {
    // Settle 300 ms after the drain: the subscriptions' LISTENs are issued, the probe still waits.
    const r = await leakCheck(url, 20, 300);
    assert.equal(r.code, 0, `the child failed:\n${r.stderr}`);
    assert.equal(r.ran, 20);
    // Positive controls: the probe was still waiting when stop() began, and before close() the
    // process held sockets and timers (the check can see them).
    assert.equal(r.pendingAtStop, true, 'the probe had no verdict yet when stop() began');
    assert.ok(r.beforeClose.includes('TCPSocketWrap') && r.beforeClose.includes('Timeout'), `before close: ${r.beforeClose.join(', ')}`);
    assert.ok(r.stopMs < PROBE_WAIT_MS / 2, `stop() took ${Math.round(r.stopMs)} ms`);
    assert.deepEqual(r.afterClose, [], `no socket or timer left ${r.releasedAt - r.closedAt} ms after close()`);
    // Nothing else keeps the process alive either (a waiting probe's timer would, for up to 2 s).
    assert.ok(r.exitedAt - r.closedAt < PROBE_WAIT_MS / 2, `the process exited ${r.exitedAt - r.closedAt} ms after close()`);
  });

  it('the first live-events stream answers at once while the probe waits, and still delivers a task change (by the tick)', async () => {
    const core = await openSeedCore({ databaseUrl: url, migrate: false, log: { warn: () => undefined } });
    let server: Awaited<ReturnType<typeof buildServer>> | undefined;
    let stream: Awaited<ReturnType<typeof openEventStream>> | undefined;
    try {
      server = await buildServer({ core, apiToken: '', eventsTickMs: 200 });
      // Another subscriber in the process (a worker) opened the listener's connection: its probe
      // now waits, and a LISTEN on a new channel queues behind it.
      await core.db.listen('topology_other', () => undefined);
      let verdict: boolean | undefined;
      void core.db.notificationsWork().then((v) => (verdict = v));
      // listen() runs the ready hook that starts the hub: neither it nor the first stream may wait for the LISTEN.
      const t0 = performance.now();
      const base = await server.app.listen({ port: 0, host: '127.0.0.1' });
      const listenMs = performance.now() - t0;
      stream = await openEventStream(`${base}/api/events`);
      const hello = JSON.parse((await stream.next((e) => e.event === 'overview')).data) as { reason: string; counts: { queued: number } };
      const helloMs = performance.now() - t0;
      assert.equal(hello.reason, 'hello');
      assert.equal(verdict, undefined, 'the probe was still waiting when the first event arrived');
      assert.ok(helloMs < PROBE_WAIT_MS / 2, `listen() and the first event took ${Math.round(helloMs)} ms (listen() ${Math.round(listenMs)} ms)`);
      await db.query("INSERT INTO tasks (type, status) VALUES ('topology_sse', 'queued')");
      const change = await stream.next((e) => e.event === 'overview' && (JSON.parse(e.data) as typeof hello).counts.queued === hello.counts.queued + 1, 5000);
      assert.equal((JSON.parse(change.data) as typeof hello).reason, 'tick', 'no notification arrives behind the pooler: the tick delivered it');
      assert.equal(await core.db.notificationsWork(), false);
    } finally {
      stream?.close();
      await server?.app.close();
      await core.close();
    }
  });

  it('workers stop gracefully (exit 0) and never logged a prepared-statement error', async () => {
    for (const w of workers) w.child.kill('SIGTERM');
    const codes = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(
      codes,
      workers.map(() => 0),
    );
    for (const w of workers) assert.deepEqual(badLines(w.stderr()), [], `worker ${w.pid} logged errors`);
    assert.ok(!/prepared statement/i.test(bouncer.log()), 'PgBouncer saw no prepared-statement trouble');
  });
});
