/**
 * Durable tasks in every face: the library (sc.tasks.emitEvent, sc.tasks.durable), HTTP
 * (POST /api/task-events behind the token, GET /api/tasks/:id/runs, GET /api/tasks/:id with
 * its durable view), the CLI (tasks emit, tasks get; server backend: the CLI is a separate
 * process) and the Prometheus metrics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Dispatcher } from '../src/tasks/dispatcher.js';
import type { HandlerMap } from '../src/tasks/types.js';
import { BACKENDS } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { testServer, type TestServer } from './helpers/server.js';
import { taskRow, waitFor } from './helpers/tasks.js';

const handlers: HandlerMap = {
  'faces-waiter': async (task, ctx) => {
    const first = await ctx.step('first', () => 'one');
    const p = await ctx.awaitEvent(String(task.params.event));
    return { first, p };
  },
};

for (const kind of BACKENDS) {
  describe(`durable tasks: library, HTTP, CLI, metrics (${kind})`, () => {
    let s: TestServer;
    let d: Dispatcher;
    before(async () => {
      s = await testServer(kind, { apiToken: 'sekret' });
      d = new Dispatcher(s.t.db, { handlers, pollIntervalMs: 50, concurrency: 2 });
      await d.start();
    });
    after(async () => {
      await d.stop({ graceMs: 0 });
      await s.close();
    });
    const auth = { authorization: 'Bearer sekret' };

    it('a waiting task shows its wait, steps and runs; an HTTP emit wakes it; a second emit says it changed nothing', async () => {
      const task = await s.core.tasks.submit({ type: 'faces-waiter', params: { event: `order-${kind}` } });
      await waitFor('waiting', async () => (await s.core.tasks.durable(task.id)).waiting_for === `event:order-${kind}`);
      const view = (await s.app.inject({ url: `/api/tasks/${task.id}`, headers: auth })).json();
      assert.equal(view.id, task.id);
      assert.equal(view.status, 'queued');
      assert.equal(view.durable.waiting_for, `event:order-${kind}`);
      assert.equal(view.durable.wait.kind, 'event');
      assert.deepEqual(
        view.durable.steps.map((x: { name: string }) => x.name),
        ['first'],
      );
      assert.deepEqual(
        view.durable.runs.map((r: { outcome: string }) => r.outcome),
        ['suspended'],
      );

      assert.equal((await s.app.inject({ method: 'POST', url: '/api/task-events', payload: { name: `order-${kind}`, payload: { paid: 1 } } })).statusCode, 401);
      assert.equal((await s.app.inject({ method: 'POST', url: '/api/task-events', headers: auth, payload: { name: '' } })).statusCode, 400);
      const first = await s.app.inject({ method: 'POST', url: '/api/task-events', headers: auth, payload: { name: `order-${kind}`, payload: { paid: 1 } } });
      assert.equal(first.statusCode, 201);
      assert.deepEqual(first.json(), { name: `order-${kind}`, emitted: true });
      const again = await s.app.inject({ method: 'POST', url: '/api/task-events', headers: auth, payload: { name: `order-${kind}`, payload: { paid: 2 } } });
      assert.equal(again.statusCode, 200);
      assert.equal(again.json().emitted, false);
      await waitFor('completed', async () => (await taskRow(s.t.db, task.id)).status === 'completed');
      assert.deepEqual((await taskRow(s.t.db, task.id)).result, { first: 'one', p: { paid: 1 } });

      const runs = (await s.app.inject({ url: `/api/tasks/${task.id}/runs`, headers: auth })).json();
      assert.deepEqual(
        runs.items.map((r: { outcome: string; attempt: number }) => [r.outcome, r.attempt]),
        [
          ['suspended', 1],
          ['completed', 1],
        ],
      );
      assert.equal((await s.app.inject({ url: '/api/tasks/00000000-0000-4000-8000-000000000000/runs', headers: auth })).statusCode, 404);
    });

    it('library: sc.tasks.emitEvent is first-emit-wins', async () => {
      assert.equal(await s.core.tasks.emitEvent(`lib-${kind}`, [1, 2]), true);
      assert.equal(await s.core.tasks.emitEvent(`lib-${kind}`, 'other'), false);
      const r = await s.t.db.query<{ payload: unknown }>('SELECT payload FROM task_events WHERE name = $1', [`lib-${kind}`]);
      assert.deepEqual(r.rows[0]?.payload, [1, 2]);
    });

    it('metrics: suspended tasks and recent runs', async () => {
      const task = await s.core.tasks.submit({ type: 'faces-waiter', params: { event: `never-${kind}` } });
      await waitFor('waiting', async () => (await s.core.tasks.durable(task.id)).waiting_for !== null);
      const text = (await s.app.inject({ url: '/metrics', headers: auth })).body;
      assert.match(text, /seedcore_tasks_suspended\{waiting_for="event"\} 1/);
      assert.match(text, /seedcore_task_runs_recent\{type="faces-waiter",outcome="completed"\} 1/);
      assert.match(text, /seedcore_task_run_duration_seconds_recent_bucket\{type="faces-waiter",le="\+Inf"\} \d/);
    });

    if (kind === 'postgres') {
      it('CLI: tasks emit and tasks get', async () => {
        const url = s.t.url as string;
        const task = await s.core.tasks.submit({ type: 'faces-waiter', params: { event: 'cli-ev' } });
        await waitFor('waiting', async () => (await s.core.tasks.durable(task.id)).waiting_for === 'event:cli-ev');
        const got = await runCli(['--database-url', url, 'tasks', 'get', task.id]);
        assert.equal(got.code, 0, got.stderr);
        assert.match(got.stdout, /waiting for: {2}event:cli-ev/);
        assert.match(got.stdout, /steps: {8}first/);
        assert.match(got.stdout, /run: {10}#1 suspended/);
        const e1 = await runCli(['--database-url', url, 'tasks', 'emit', 'cli-ev', '--payload', '{"ok":true}']);
        assert.equal(e1.code, 0, e1.stderr);
        assert.match(e1.stdout, /emitted cli-ev/);
        const e2 = await runCli(['--database-url', url, '--json', 'tasks', 'emit', 'cli-ev']);
        assert.deepEqual(JSON.parse(e2.stdout), { name: 'cli-ev', emitted: false });
        await waitFor('completed', async () => (await taskRow(s.t.db, task.id)).status === 'completed');
        assert.deepEqual((await taskRow(s.t.db, task.id)).result, { first: 'one', p: { ok: true } });
      });
    }
  });
}
