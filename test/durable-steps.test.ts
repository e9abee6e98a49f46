/**
 * Durable handlers in one process, on both backends: steps replay from their checkpoints,
 * sleeps free the slot and never use up attempts, events (before, after, never, and many
 * concurrent emits), child tasks (fan-out, a failed child, cancelling the parent), and a step
 * whose compare-and-set fails is not stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Dispatcher } from '../src/tasks/dispatcher.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { emitTaskEvent } from '../src/tasks/durable/events.js';
import type { HandlerMap } from '../src/tasks/types.js';
import { isSeedCoreError } from '../src/errors.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { deferred, startDispatcher, taskRow, waitFor } from './helpers/tasks.js';

async function runs(t: TestDb, id: string): Promise<{ attempt: number; outcome: string | null }[]> {
  const r = await t.db.query<{ attempt: number; outcome: string | null }>('SELECT attempt, outcome FROM task_runs WHERE task_id = $1 ORDER BY ended_at', [id]);
  return r.rows;
}

for (const kind of BACKENDS) {
  describe(`durable handlers (${kind})`, () => {
    let t: TestDb;
    let c: TaskCoordinator;
    let d: Dispatcher | undefined;
    const calls = new Map<string, number>();
    const count = (k: string): number => {
      const n = (calls.get(k) ?? 0) + 1;
      calls.set(k, n);
      return n;
    };
    const gate = { failOnce: new Set<string>() };
    const seenEvents: unknown[] = [];
    const released = deferred();

    const handlers: HandlerMap = {
      // Three steps, the second fails on the first execution: a retry re-runs only it.
      steps: async (task, ctx) => {
        const a = await ctx.step('a', () => count(`${task.id}:a`));
        const b = await ctx.step('b', () => {
          count(`${task.id}:b`);
          if (!gate.failOnce.has(task.id)) {
            gate.failOnce.add(task.id);
            throw new Error('transient');
          }
          return { at: 'b', n: 2 };
        });
        const loop: number[] = [];
        for (let i = 0; i < 3; i++) loop.push(await ctx.step('item', () => i * 10));
        return { a, b, loop };
      },
      sleeper: async (task, ctx) => {
        const before = await ctx.step('before', () => count(`${task.id}:before`));
        await ctx.sleepFor(Number(task.params.seconds ?? 1));
        count(`${task.id}:after`);
        return { before };
      },
      quick: async () => 'quick',
      // Three sleeps with steps between: each resume replays the earlier sleeps without sleeping.
      'multi-sleeper': async (task, ctx) => {
        const out: number[] = [];
        for (let i = 0; i < 3; i++) {
          out.push(await ctx.step('tick', () => count(`${task.id}:tick${i}`)));
          await ctx.sleepFor(0.2);
        }
        count(`${task.id}:end`);
        return out;
      },
      waiter: async (task, ctx) => {
        const timeoutSeconds = typeof task.params.timeout === 'number' ? task.params.timeout : undefined;
        try {
          const p = await ctx.awaitEvent(String(task.params.event), timeoutSeconds === undefined ? {} : { timeoutSeconds });
          seenEvents.push(p);
          return { payload: p };
        } catch (e) {
          if (isSeedCoreError(e, 'SEEDCORE_EVENT_TIMEOUT')) return { timedOut: e.code };
          throw e;
        }
      },
      child: async (task) => {
        if (task.params.fail === true) throw new Error(`child ${String(task.params.i)} broke`);
        if (task.params.hold === true) await released.promise;
        return { i: task.params.i, sq: Number(task.params.i) ** 2 };
      },
      parent: async (task, ctx) => {
        const n = Number(task.params.n);
        const ids: string[] = [];
        for (let i = 0; i < n; i++)
          ids.push(await ctx.spawn('child', { i, fail: task.params.failAt === i, hold: task.params.hold === true }, { maxAttempts: 1 }));
        count(`${task.id}:resumes`);
        const results = await ctx.awaitTasks<{ i: number; sq: number }>(ids);
        return { n: results.length, sum: results.reduce((s, r) => s + r.sq, 0), ids };
      },
    };

    before(async () => {
      t = await freshDb(kind);
      c = new TaskCoordinator(t.db);
    });
    after(async () => {
      if (d) await d.stop({ graceMs: 0 });
      await t.cleanup();
    });

    it('starts a dispatcher (concurrency 1)', async () => {
      d = await startDispatcher(t.db, { handlers, concurrency: 1, prefetch: 0, leaseSeconds: 30, backoff: { baseMs: 10, capMs: 20, jitter: 0 } });
    });

    it('steps: a retry re-runs only the failed step; completed steps ran once; loop names get #n', async () => {
      const task = await c.submit({ type: 'steps' });
      await waitFor('steps completed', async () => (await taskRow(t.db, task.id)).status === 'completed', 15_000);
      const row = await taskRow(t.db, task.id);
      assert.deepEqual(row.result, { a: 1, b: { at: 'b', n: 2 }, loop: [0, 10, 20] });
      assert.equal(calls.get(`${task.id}:a`), 1, 'step a ran once although the task ran twice');
      assert.equal(calls.get(`${task.id}:b`), 2, 'the failing step ran again (positive control: the task did retry)');
      assert.equal(row.attempts, 2);
      const cp = await t.db.query<{ name: string }>('SELECT name FROM task_checkpoints WHERE task_id = $1 ORDER BY name', [task.id]);
      assert.deepEqual(
        cp.rows.map((r) => r.name),
        ['a', 'b', 'item', 'item#2', 'item#3'],
      );
      assert.deepEqual(
        (await runs(t, task.id)).map((r) => r.outcome),
        ['retry', 'completed'],
      );
    });

    it('sleepFor: the slot is freed (another task completes meanwhile), attempts are not consumed', async () => {
      const sleeper = await c.submit({ type: 'sleeper', params: { seconds: 1.5 } });
      await waitFor('sleeper suspended', async () => (await taskRow(t.db, sleeper.id)).status === 'queued' && calls.get(`${sleeper.id}:before`) === 1);
      const w = await t.db.query<{ waiting_for: string | null; future: boolean }>('SELECT waiting_for, run_after > now() AS future FROM tasks WHERE id = $1', [
        sleeper.id,
      ]);
      assert.deepEqual(w.rows[0], { waiting_for: 'sleep', future: true });
      const quick = await c.submit({ type: 'quick' });
      await waitFor('quick completed during the sleep', async () => (await taskRow(t.db, quick.id)).status === 'completed');
      assert.equal((await taskRow(t.db, sleeper.id)).status, 'queued', 'the sleeper was still asleep when the other task completed');
      await waitFor('sleeper completed', async () => (await taskRow(t.db, sleeper.id)).status === 'completed', 10_000);
      const row = await taskRow(t.db, sleeper.id);
      assert.equal(row.attempts, 1, 'one attempt for a run that slept once');
      assert.deepEqual(row.result, { before: 1 });
      assert.equal(calls.get(`${sleeper.id}:before`), 1, 'the step before the sleep ran once');
      assert.equal(calls.get(`${sleeper.id}:after`), 1, 'the code after the sleep ran once (the sleep did not repeat)');
      assert.deepEqual(await runs(t, sleeper.id), [
        { attempt: 1, outcome: 'suspended' },
        { attempt: 1, outcome: 'completed' },
      ]);
    });

    it('three sleeps: every step ran once, the end once, four runs of one attempt', async () => {
      const task = await c.submit({ type: 'multi-sleeper' });
      await waitFor('multi-sleeper completed', async () => (await taskRow(t.db, task.id)).status === 'completed', 15_000);
      const row = await taskRow(t.db, task.id);
      assert.deepEqual(row.result, [1, 1, 1]);
      assert.equal(row.attempts, 1);
      for (const k of ['tick0', 'tick1', 'tick2', 'end']) assert.equal(calls.get(`${task.id}:${k}`), 1, k);
      assert.deepEqual(
        (await runs(t, task.id)).map((r) => r.outcome),
        ['suspended', 'suspended', 'suspended', 'completed'],
      );
    });

    it('awaitEvent: emitted after the wait, before the wait, and never (timeout code)', async () => {
      const afterW = await c.submit({ type: 'waiter', params: { event: 'ev-after' } });
      await waitFor('waiter suspended', async () => {
        const r = await t.db.query<{ waiting_for: string | null }>('SELECT waiting_for FROM tasks WHERE id = $1', [afterW.id]);
        return r.rows[0]?.waiting_for === 'event:ev-after';
      });
      assert.equal(await emitTaskEvent(t.db, 'ev-after', { v: 'after' }), true);
      assert.equal(await emitTaskEvent(t.db, 'ev-before', { v: 'before' }), true);
      const beforeW = await c.submit({ type: 'waiter', params: { event: 'ev-before' } });
      const never = await c.submit({ type: 'waiter', params: { event: 'ev-never', timeout: 0.5 } });
      for (const id of [afterW.id, beforeW.id, never.id])
        await waitFor(`waiter ${id} completed`, async () => (await taskRow(t.db, id)).status === 'completed', 10_000);
      assert.deepEqual((await taskRow(t.db, afterW.id)).result, { payload: { v: 'after' } });
      assert.deepEqual((await taskRow(t.db, beforeW.id)).result, { payload: { v: 'before' } });
      assert.deepEqual((await taskRow(t.db, never.id)).result, { timedOut: 'SEEDCORE_EVENT_TIMEOUT' });
      assert.equal((await taskRow(t.db, never.id)).attempts, 1);
    });

    it('100 concurrent emits of one name: exactly one wins and every waiter sees its payload', async () => {
      seenEvents.length = 0;
      const waiters = await c.submitMany(Array.from({ length: 5 }, () => ({ type: 'waiter', params: { event: 'race' } })));
      await waitFor('5 waiters suspended', async () => {
        const r = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE waiting_for = 'event:race'");
        return r.rows[0]?.n === 5;
      });
      const wins = await Promise.all(Array.from({ length: 100 }, (_, i) => emitTaskEvent(t.db, 'race', { i })));
      assert.equal(wins.filter(Boolean).length, 1, 'one winner');
      const stored = await t.db.query<{ payload: { i: number } }>("SELECT payload FROM task_events WHERE name = 'race'");
      const winner = wins.indexOf(true);
      assert.deepEqual(stored.rows[0]?.payload, { i: winner });
      for (const w of waiters) await waitFor('waiter done', async () => (await taskRow(t.db, w.id)).status === 'completed', 10_000);
      for (const w of waiters) assert.deepEqual((await taskRow(t.db, w.id)).result, { payload: { i: winner } });
    });

    it('fan-out of 50 children: the parent resumes once with all 50 results', async () => {
      await d?.stop({ graceMs: 0 });
      d = await startDispatcher(t.db, { handlers, concurrency: 8, leaseSeconds: 30, backoff: { baseMs: 10, capMs: 20, jitter: 0 } });
      const p = await c.submit({ type: 'parent', params: { n: 50 } });
      await waitFor('parent completed', async () => (await taskRow(t.db, p.id)).status === 'completed', 30_000);
      const row = await taskRow(t.db, p.id);
      const res = row.result as { n: number; sum: number; ids: string[] };
      assert.equal(res.n, 50);
      assert.equal(
        res.sum,
        Array.from({ length: 50 }, (_, i) => i * i).reduce((a, b) => a + b, 0),
      );
      assert.equal(calls.get(`${p.id}:resumes`), 2, 'ran up to awaitTasks twice: first run, and one resume');
      assert.equal(row.attempts, 1);
      const edges = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_depends_on_task WHERE src_task_id = $1', [p.id]);
      assert.equal(edges.rows[0]?.n, 50, 'a task_depends_on_task edge per child');
    });

    it('a failed child fails the parent with SEEDCORE_CHILD_FAILED naming it', async () => {
      const p = await c.submit({ type: 'parent', params: { n: 3, failAt: 1 }, max_attempts: 1 });
      await waitFor('parent failed', async () => (await taskRow(t.db, p.id)).status === 'failed', 15_000);
      const kids = await t.db.query<{ id: string; status: string }>(
        "SELECT id, status::text AS status FROM tasks WHERE parent_id = $1 AND params->>'i' = '1'",
        [p.id],
      );
      const failed = kids.rows[0];
      assert.equal(failed?.status, 'failed');
      const err = (await taskRow(t.db, p.id)).error ?? '';
      assert.match(err, new RegExp(`child task ${failed?.id} failed`));
    });

    it('cancelling a waiting parent cancels its unfinished children', async () => {
      const p = await c.submit({ type: 'parent', params: { n: 3, hold: true } });
      await waitFor('parent waits for its children', async () => {
        const r = await t.db.query<{ waiting_for: string | null }>('SELECT waiting_for FROM tasks WHERE id = $1', [p.id]);
        return r.rows[0]?.waiting_for?.startsWith('tasks:') === true;
      });
      await c.cancel(p.id);
      const kids = await t.db.query<{ status: string }>('SELECT status::text AS status FROM tasks WHERE parent_id = $1', [p.id]);
      assert.equal(kids.rows.length, 3);
      assert.deepEqual(
        kids.rows.map((k) => k.status),
        ['cancelled', 'cancelled', 'cancelled'],
      );
      released.resolve();
      const waits = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_waits WHERE task_id = $1', [p.id]);
      assert.equal(waits.rows[0]?.n, 0, 'the cancelled parent waits for nothing');
    });

    it('a step whose compare-and-set fails (lease lost) is not stored', async () => {
      await d?.stop({ graceMs: 0 });
      d = undefined;
      const task = await c.submit({ type: 'steps' });
      await t.db.query("UPDATE tasks SET status = 'running', owner_id = 'someone-else', attempts = 1 WHERE id = $1", [task.id]);
      const { Durable } = await import('../src/tasks/durable/durable.js');
      const mine = new Durable(t.db, task.id, 'me');
      let ran = 0;
      await assert.rejects(
        mine.step('s', () => ++ran),
        (e: unknown) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'),
      );
      assert.equal(ran, 1, 'the step body ran');
      const theirs = new Durable(t.db, task.id, 'someone-else');
      assert.equal(await theirs.step('s', () => 42), 42, 'positive control: the owner stores it');
      const cp = await t.db.query<{ result: unknown }>("SELECT result FROM task_checkpoints WHERE task_id = $1 AND name = 's'", [task.id]);
      assert.deepEqual(
        cp.rows.map((r) => r.result),
        [42],
      );
    });

    it('deleting tasks removes their runs, checkpoints and waits; events are pruned by age', async () => {
      const ids = (await t.db.query<{ id: string }>('SELECT DISTINCT task_id AS id FROM task_runs')).rows.map((r) => r.id);
      const counts = async (): Promise<number[]> => {
        const r = await t.db.query<{ a: number; b: number; c: number }>(
          `SELECT (SELECT count(*)::int FROM task_runs) AS a, (SELECT count(*)::int FROM task_checkpoints) AS b,
                  (SELECT count(*)::int FROM task_waits) AS c`,
        );
        const row = r.rows[0] as { a: number; b: number; c: number };
        return [row.a, row.b, row.c];
      };
      const [runsBefore, cpBefore] = await counts();
      assert.ok((runsBefore ?? 0) > 0 && (cpBefore ?? 0) > 0, 'positive control: there is history to delete');
      await t.db.query("UPDATE tasks SET status = 'queued', waiting_for = 'sleep' WHERE status = 'running'");
      await t.db.query(
        "INSERT INTO task_waits (task_id, kind, wake_at) SELECT id, 'sleep', now() FROM tasks WHERE waiting_for = 'sleep' ON CONFLICT DO NOTHING",
      );
      await t.db.query('DELETE FROM task_depends_on_task');
      await t.db.query('DELETE FROM tasks');
      assert.deepEqual(await counts(), [0, 0, 0]);
      assert.ok(ids.length > 0);
      const { pruneTaskEvents } = await import('../src/tasks/retention.js');
      const before = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_events')).rows[0]?.n ?? 0;
      assert.ok(before > 0);
      assert.deepEqual(await pruneTaskEvents(t.db, { olderThanSeconds: 3600 }), { deleted: 0 });
      assert.deepEqual(await pruneTaskEvents(t.db, { olderThanSeconds: 0 }), { deleted: before });
    });
  });
}
