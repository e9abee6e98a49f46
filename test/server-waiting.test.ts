/**
 * The waiting filter of a task list: suspended durable tasks (a sleep, an event, child
 * tasks) by kind, the same from the library, GET /api/tasks and `seedcore tasks list`; a bad
 * kind is the same error everywhere; and the filter is answered from the partial index of
 * suspended tasks (migration 018's idx_tasks_waiting), not by reading the table.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../src/db/types.js';
import { PGliteDb } from '../src/db/index.js';
import { isSeedCoreError } from '../src/errors.js';
import { migrate } from '../src/migrate/runner.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { Dispatcher } from '../src/tasks/dispatcher.js';
import type { HandlerMap } from '../src/tasks/types.js';
import { BACKENDS } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { testServer, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/tasks.js';

const handlers: HandlerMap = {
  'waiting-sleeper': async (_task, ctx) => {
    await ctx.sleepFor(3600);
    return 'slept';
  },
  'waiting-listener': async (task, ctx) => ctx.awaitEvent(String(task.params.event)),
  'waiting-parent': async (_task, ctx) => {
    // No worker here runs the child's type, so the parent keeps waiting for it.
    const child = await ctx.spawn('waiting-child-nobody-runs', {});
    return ctx.awaitTasks([child]);
  },
  'waiting-plain': async () => 'done',
};

for (const kind of BACKENDS) {
  describe(`tasks list: the waiting filter (${kind})`, () => {
    let s: TestServer;
    let d: Dispatcher;
    let dir: string;
    const ids: Record<string, string> = {};
    before(
      async () => {
        s = await testServer(kind);
        dir = mkdtempSync(join(tmpdir(), 'seedcore-waiting-'));
        d = new Dispatcher(s.t.db, { handlers, pollIntervalMs: 50, concurrency: 4 });
        await d.start();
        ids.sleep = (await s.core.tasks.submit({ type: 'waiting-sleeper' })).id;
        ids.event = (await s.core.tasks.submit({ type: 'waiting-listener', params: { event: `paid-${kind}` } })).id;
        ids.tasks = (await s.core.tasks.submit({ type: 'waiting-parent' })).id;
        ids.plain = (await s.core.tasks.submit({ type: 'waiting-plain' })).id;
        await waitFor(
          'three suspended tasks',
          async () => {
            const { rows } = await s.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks WHERE waiting_for IS NOT NULL');
            return rows[0]?.n === 3;
          },
          60_000,
        );
        await d.stop({ graceMs: 0 });
      },
      { timeout: 120_000 },
    );
    after(async () => {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const FILTERS: Array<[string, string[]]> = [
      ['any', ['sleep', 'event', 'tasks']],
      ['sleep', ['sleep']],
      ['event', ['event']],
      [`event:paid-${kind}`, ['event']],
      ['event:paid-nobody', []],
      ['tasks', ['tasks']],
    ];
    const named = (items: Array<{ id: string }>) => items.map((t) => Object.keys(ids).find((k) => ids[k] === t.id) ?? t.id).sort();
    // Which tasks, in which order, and where the next page starts: a face may add computed fields to a row.
    const pageOf = (p: { items: Array<{ id: string }>; nextCursor: string | null }) => ({ ids: p.items.map((t) => t.id), nextCursor: p.nextCursor });

    it('lists suspended tasks by what they wait for, in the library and over HTTP', async () => {
      const all = await s.core.tasks.list({ limit: 100 });
      assert.ok(named(all.items).includes('plain'), 'positive control: the unfiltered list has the task that does not wait');
      for (const [filter, want] of FILTERS) {
        const lib = await s.core.tasks.list({ waiting: filter });
        assert.deepEqual(named(lib.items), [...want].sort(), `library waiting=${filter}`);
        const r = await s.app.inject(`/api/tasks?waiting=${encodeURIComponent(filter)}`);
        assert.equal(r.statusCode, 200, r.body);
        assert.deepEqual(pageOf(r.json()), pageOf(lib), `GET /api/tasks?waiting=${filter} is the library's page`);
      }
      // With the other filters: a status the suspended tasks do not have.
      assert.deepEqual((await s.core.tasks.list({ waiting: 'any', status: 'running' })).items, []);
      assert.equal((await s.core.tasks.list({ waiting: 'any', status: 'queued' })).items.length, 3);
    });

    it('rejects an unknown kind with the same error from the library, HTTP and the CLI', { timeout: 300_000 }, async () => {
      let lib: { code: string; details: Record<string, unknown> | undefined } | undefined;
      try {
        await s.core.tasks.list({ waiting: 'forever' });
      } catch (e) {
        assert.ok(isSeedCoreError(e));
        lib = { code: e.code, details: e.details };
      }
      assert.ok(lib, 'the library rejects it');
      assert.equal(lib.details?.path, 'waiting');
      const r = await s.app.inject('/api/tasks?waiting=forever');
      assert.equal(r.statusCode, 400);
      const http = r.json().error;
      for (const k of ['path', 'expected', 'got']) assert.equal(http.details[k], lib.details?.[k], `HTTP ${k}`);
      if (kind === 'pglite') {
        const db = await PGliteDb.open({ dataDir: join(dir, 'data') });
        await migrate(db);
        await db.close();
      }
      const target = kind === 'postgres' ? ['--database-url', s.t.url as string] : ['--data-dir', join(dir, 'data')];
      const out = await runCli([...target, '--json', 'tasks', 'list', '--waiting', 'forever'], {}, 180_000);
      assert.equal(out.code, 2, out.stderr);
      const cli = JSON.parse(out.stderr.trim().split('\n').pop() as string).error;
      assert.equal(cli.code, lib.code);
      for (const k of ['path', 'expected', 'got']) assert.equal(cli.details[k], lib.details?.[k], `CLI ${k}`);
    });

    it(
      '`seedcore tasks list --waiting` prints the page GET /api/tasks?waiting= answers',
      { skip: kind === 'pglite' ? 'the CLI shares the server database only' : false, timeout: 300_000 },
      async () => {
        const target = ['--database-url', s.t.url as string];
        for (const [args, filter] of [
          [['--waiting'], 'any'],
          [['--waiting', 'sleep'], 'sleep'],
          [['--waiting', 'tasks'], 'tasks'],
        ] as const) {
          const out = await runCli([...target, '--json', 'tasks', 'list', ...args], {}, 120_000);
          assert.equal(out.code, 0, out.stderr);
          const http = (await s.app.inject(`/api/tasks?waiting=${filter}`)).json();
          assert.deepEqual(pageOf(JSON.parse(out.stdout)), pageOf(http), `tasks list ${args.join(' ')}`);
          assert.ok(http.items.length >= 1, 'positive control: the page compared is not empty');
        }
      },
    );

    it('finds suspended tasks through the partial index idx_tasks_waiting in a table of 20,000 others', { timeout: 300_000 }, async () => {
      await s.t.db.exec(
        "INSERT INTO tasks (type, status, params) SELECT 'waiting-bulk', 'completed', '{}'::jsonb FROM generate_series(1, 20000); ANALYZE tasks;",
      );
      // The coordinator's own statement, captured on its way to the database.
      const seen: Array<{ sql: string; params: unknown[] }> = [];
      const spy = new Proxy(s.t.db, {
        get(target, prop, receiver) {
          if (prop === 'query')
            return (sql: string, params: unknown[] = []) => {
              seen.push({ sql, params });
              return target.query(sql, params);
            };
          return Reflect.get(target, prop, receiver) as unknown;
        },
      }) as Db;
      const coordinator = new TaskCoordinator(spy);
      for (const filter of ['any', 'sleep', 'event', `event:paid-${kind}`]) {
        seen.length = 0;
        const page = await coordinator.list({ waiting: filter });
        assert.ok(page.items.length >= 1, `waiting=${filter} finds its task`);
        const q = seen.find((x) => /FROM tasks/.test(x.sql)) as { sql: string; params: unknown[] };
        const plan = (await s.t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.sql}`, q.params)).rows.map((r) => r['QUERY PLAN']).join('\n');
        assert.match(plan, /idx_tasks_waiting/, `waiting=${filter}:\n${plan}`);
      }
      // Positive control: the same list without the filter does not use that index.
      seen.length = 0;
      await coordinator.list({ type: 'waiting-bulk' });
      const q = seen.find((x) => /FROM tasks/.test(x.sql)) as { sql: string; params: unknown[] };
      const plan = (await s.t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.sql}`, q.params)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.doesNotMatch(plan, /idx_tasks_waiting/, plan);
    });
  });
}
