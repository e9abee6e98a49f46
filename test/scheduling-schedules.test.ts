import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TaskSchedules } from '../src/tasks/schedules.js';
import { BACKENDS, SERVER_URL, freshDb, type TestDb } from './helpers/db.js';
import { BIN, runCli } from './helpers/cli.js';
import { waitFor } from './helpers/wait.js';

for (const kind of BACKENDS) {
  describe(`cron schedules on ${kind}`, () => {
    let t: TestDb;
    let schedules: TaskSchedules;
    before(async () => {
      t = await freshDb(kind);
      schedules = new TaskSchedules(t.db);
    });
    after(async () => t.cleanup());
    beforeEach(async () => {
      await t.db.exec('DELETE FROM tasks; DELETE FROM task_schedules;');
    });

    it('set / get / list / enable / disable / delete, with validation', async () => {
      const s = await schedules.set({
        name: 'nightly',
        cron: '0 3 * * *',
        type: 'noop',
        params: { a: 1 },
        queue: 'batch',
        priority: 'low',
        timezone: 'Europe/Berlin',
      });
      assert.deepEqual([s.name, s.cron, s.timezone, s.queue, s.priority, s.enabled], ['nightly', '0 3 * * *', 'Europe/Berlin', 'batch', 'low', true]);
      assert.ok(s.next_slot && s.next_slot > s.last_slot);
      assert.equal(s.next_slot?.getUTCMinutes(), 0);
      assert.equal((await schedules.setEnabled('nightly', false)).next_slot, null);
      assert.equal((await schedules.list()).items.length, 1);
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ cron: '61 * * * *' }, /minute/],
        [{ timezone: 'Mars/Olympus' }, /unknown time zone/],
        [{ priority: 'urgent' }, /priority/],
        [{ params: [1] }, /params/],
        [{ bogus: 1 }, /unknown field/],
      ];
      for (const [extra, re] of bad)
        await assert.rejects(schedules.set({ name: 'x', cron: '* * * * *', type: 'noop', ...extra } as never), (e: Error & { code?: string }) => {
          return e.code === 'SEEDCORE_INVALID_INPUT' && re.test(e.message);
        });
      await schedules.delete('nightly');
      await assert.rejects(schedules.delete('nightly'), { code: 'SEEDCORE_NOT_FOUND' });
      await assert.rejects(schedules.get('x'), { code: 'SEEDCORE_NOT_FOUND' });
    });

    it('fires the latest due slot once (missed slots collapse), never a slot before the schedule was set', async () => {
      // Yearly (UTC): deterministic, no slot boundary passes during the test.
      await schedules.set({ name: 'm', cron: '@yearly', type: 'noop', queue: 'q1', priority: 'high', params: { p: 1 } });
      assert.deepEqual(await schedules.fireDue(), [], 'no slot since it was set');
      await t.db.exec("UPDATE task_schedules SET last_slot = now() - interval '800 days'");
      const fired = await schedules.fireDue();
      assert.equal(fired.length, 1, 'two missed slots fire once');
      const now = (await t.db.query<{ m: Date }>("SELECT date_trunc('year', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m")).rows[0]?.m as Date;
      assert.equal(fired[0]?.slot.toISOString(), now.toISOString());
      assert.deepEqual(await schedules.fireDue(), [], 'the same slot does not fire twice');
      const task = await t.db.query<{ type: string; queue: string; priority: string; params: unknown; description: string }>(
        'SELECT type, queue, priority::text AS priority, params, description FROM tasks',
      );
      assert.deepEqual(
        task.rows.map((r) => [r.type, r.queue, r.priority, r.params]),
        [['noop', 'q1', 'high', { p: 1 }]],
      );
      assert.match(task.rows[0]?.description ?? '', /^schedule m @ /);
      assert.equal((await schedules.get('m')).last_task_id, fired[0]?.taskId);
      // A disabled schedule does not fire; enabling it does not fire the missed slots.
      await schedules.setEnabled('m', false);
      await t.db.exec("UPDATE task_schedules SET last_slot = now() - interval '400 days'");
      assert.deepEqual(await schedules.fireDue(), []);
      await schedules.setEnabled('m', true);
      assert.deepEqual(await schedules.fireDue(), []);
    });

    it('concurrent evaluators fire each slot once', async () => {
      for (let i = 0; i < 10; i++) await schedules.set({ name: `s${i}`, cron: '0 0 1 1 *', type: 'noop' });
      await t.db.exec("UPDATE task_schedules SET last_slot = now() - interval '400 days'");
      const results = await Promise.all(Array.from({ length: 6 }, () => new TaskSchedules(t.db).fireDue()));
      assert.equal(results.flat().length, 10);
      const per = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks GROUP BY description ORDER BY 1 DESC LIMIT 1');
      assert.equal(per.rows[0]?.n, 1);
    });

    it('CLI: schedules set, list --json, disable, enable, delete', async () => {
      // PGlite: the CLI opens its own data directory; the server: the test database.
      const env = kind === 'postgres' ? { DATABASE_URL: t.url } : {};
      const pre = kind === 'postgres' ? [] : ['--data-dir', `${process.env.TMPDIR ?? '/tmp'}/seedcore-sched-${process.pid}-${Date.now()}`];
      const set = await runCli([...pre, '--json', 'schedules', 'set', 'hourly-report', '--cron', '@hourly', '--type', 'noop', '--priority', 'high'], env);
      assert.equal(set.code, 0, set.stderr);
      assert.equal((JSON.parse(set.stdout) as { cron: string }).cron, '@hourly');
      if (kind === 'postgres') {
        // (Each embedded CLI call opens the data directory, ~3 s: the server covers the rest.)
        const bad = await runCli([...pre, 'schedules', 'set', 'x', '--cron', '* * *', '--type', 'noop'], env);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /5 fields/);
      }
      assert.equal((await runCli([...pre, 'schedules', 'disable', 'hourly-report'], env)).code, 0);
      const list = await runCli([...pre, '--json', 'schedules', 'list'], env);
      const rows = (JSON.parse(list.stdout) as { items: { name: string; enabled: boolean; priority: string }[] }).items;
      assert.deepEqual(
        rows.map((r) => [r.name, r.enabled, r.priority]),
        [['hourly-report', false, 'high']],
      );
      assert.equal((await runCli([...pre, 'schedules', 'delete', 'hourly-report'], env)).code, 0);
      if (kind === 'postgres') {
        assert.equal((await runCli([...pre, 'schedules', 'enable', 'hourly-report'], env)).code, 4);
        assert.equal((await runCli([...pre, 'schedules', 'delete', 'hourly-report'], env)).code, 4);
      }
      if (pre[1]) rmSync(pre[1], { recursive: true, force: true });
    });
  });
}

describe('cron schedules across processes', () => {
  it(
    'server: 4 `seedcore worker` processes fire each due slot exactly once',
    { skip: SERVER_URL ? false : 'needs DATABASE_URL (PGlite data directories are single-process)', timeout: 60_000 },
    async () => {
      const t = await freshDb('postgres');
      const children: ChildProcess[] = [];
      try {
        const s = new TaskSchedules(t.db);
        for (let i = 0; i < 20; i++) await s.set({ name: `job-${i}`, cron: '* * * * *', type: 'noop', queue: 'nobody' });
        await t.db.exec("UPDATE task_schedules SET last_slot = now() - interval '150 seconds'");
        for (let i = 0; i < 4; i++) {
          const child = spawn(process.execPath, [BIN, 'worker', '--queues', 'default'], {
            env: { ...process.env, DATABASE_URL: t.url },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          children.push(child);
        }
        // Every worker evaluates the schedules each second; wait until all 20 fired.
        await waitFor(
          'all 20 schedules to fire',
          async () => ((await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE queue = 'nobody'")).rows[0]?.n ?? 0) >= 20,
          30_000,
          200,
        );
        // The window under test: each of the 4 workers evaluates the schedules about twice more,
        // and none of those rounds may fire a slot again.
        await new Promise((r) => setTimeout(r, 2500));
        // Slots fired in this window: the missed one for each schedule, plus possibly one more
        // if a minute boundary passed — but never two tasks for one (schedule, slot).
        const dup = await t.db.query<{ d: string; n: number }>(
          "SELECT description AS d, count(*)::int AS n FROM tasks WHERE queue = 'nobody' GROUP BY description HAVING count(*) > 1",
        );
        assert.deepEqual(dup.rows, []);
        const perSchedule = await t.db.query<{ n: number }>(
          "SELECT count(DISTINCT split_part(description, ' ', 2))::int AS n FROM tasks WHERE queue = 'nobody'",
        );
        assert.equal(perSchedule.rows[0]?.n, 20);
        const live = await t.db.query<{ n: number }>(
          "SELECT count(DISTINCT application_name)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'seedcore-worker'",
        );
        assert.ok((live.rows[0]?.n ?? 0) >= 1, 'workers were connected');
      } finally {
        for (const c of children) c.kill('SIGTERM');
        await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
        await t.cleanup();
      }
    },
  );
});
