import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { Dispatcher, type DispatcherOptions } from '../src/tasks/dispatcher.js';
import { setQueueLimit } from '../src/tasks/queues.js';
import type { TaskRow } from '../src/tasks/rows.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { waitFor } from './helpers/wait.js';

for (const kind of BACKENDS) {
  describe(`dispatcher with 013 options on ${kind}`, () => {
    let t: TestDb;
    let tasks: TaskCoordinator;
    const running: Dispatcher[] = [];
    const start = async (o: DispatcherOptions): Promise<Dispatcher> => {
      const d = new Dispatcher(t.db, { pollIntervalMs: 20, schedules: false, backoff: { baseMs: 5, capMs: 10, jitter: 0 }, ...o });
      running.push(d);
      await d.start();
      return d;
    };
    const ended = (id: string): Promise<TaskRow> =>
      waitFor(
        `task ${id} to end`,
        async () => {
          const r = await tasks.get(id);
          return ['completed', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
        },
        10_000,
        25,
      );
    before(async () => {
      t = await freshDb(kind);
      tasks = new TaskCoordinator(t.db);
    });
    after(async () => {
      for (const d of running.splice(0)) await d.stop({ graceMs: 100 });
      await t.cleanup();
    });
    beforeEach(async () => {
      for (const d of running.splice(0)) await d.stop({ graceMs: 100 });
      await t.db.exec('DELETE FROM tasks; DELETE FROM queue_limits;');
    });

    it('per-task max_attempts overrides the dispatcher default, both ways', async () => {
      await start({ handlers: { boom: async () => Promise.reject(new Error('boom')) }, maxAttempts: 3 });
      const once = await tasks.submit({ type: 'boom', max_attempts: 1 });
      const five = await tasks.submit({ type: 'boom', max_attempts: 5 });
      const dflt = await tasks.submit({ type: 'boom' });
      assert.deepEqual([(await ended(once.id)).attempts, (await ended(five.id)).attempts, (await ended(dflt.id)).attempts], [1, 5, 3]);
      assert.equal((await tasks.get(five.id)).status, 'failed');
    });

    it('per-task timeout_seconds overrides the per-type timeout', async () => {
      // 800 ms of work: longer than the task's own 0.1 s timeout, shorter than the type's 60 s.
      const slow = async (_t: unknown, ctx: { signal: AbortSignal }) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => resolve('done'), 800);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('aborted'));
          });
        });
      await start({ handlers: { slow }, timeouts: { slow: 60_000 } });
      const quick = await tasks.submit({ type: 'slow', timeout_seconds: 0.1, max_attempts: 1 });
      const patient = await tasks.submit({ type: 'slow' });
      const q = await ended(quick.id);
      assert.equal(q.status, 'failed');
      assert.match(q.error ?? '', /timed out after 100 ms/);
      assert.equal((await ended(patient.id)).status, 'completed');
    });

    it('serves only its queues; a worker per queue', async () => {
      const seen: Record<string, string[]> = { a: [], b: [] };
      await start({ handlers: { t: async (task) => seen.a?.push(task.queue as string) }, queues: ['a'] });
      const a = await tasks.submit({ type: 't', queue: 'a' });
      const b = await tasks.submit({ type: 't', queue: 'b' });
      assert.equal((await ended(a.id)).status, 'completed');
      // Positive control: a queue-a task submitted after b is claimed, so the worker was claiming while b waited.
      const marker = await tasks.submit({ type: 't', queue: 'a' });
      assert.equal((await ended(marker.id)).status, 'completed');
      assert.equal((await tasks.get(b.id)).status, 'queued', 'queue b has no worker');
      await start({ handlers: { t: async (task) => seen.b?.push(task.queue as string) }, queues: ['b'] });
      assert.equal((await ended(b.id)).status, 'completed');
      assert.deepEqual(seen, { a: ['a', 'a'], b: ['b'] });
      assert.throws(() => new Dispatcher(t.db, { handlers: { t: async () => 1 }, queues: [] }), { code: 'SEEDCORE_INVALID_INPUT' });
    });

    it('the recovery sweep expires waiting tasks whose window closed', async () => {
      await start({ handlers: { other: async () => 1 }, recoveryIntervalMs: 50 });
      const x = await tasks.submit({ type: 'nobody-handles-this', expires_at: new Date(Date.now() + 100) });
      const r = await ended(x.id);
      assert.deepEqual([r.status, r.error, r.attempts], ['cancelled', 'expired', 0]);
    });

    it('a per-queue limit caps running handlers across two workers', async () => {
      await setQueueLimit(t.db, 'lim', 2);
      let now = 0;
      let peak = 0;
      const h = async (): Promise<void> => {
        now++;
        peak = Math.max(peak, now);
        // 30 ms of work so that handlers overlap and the peak can exceed the limit if it is not kept.
        await new Promise((r) => setTimeout(r, 30));
        now--;
      };
      await start({ handlers: { t: h }, queues: ['lim'], concurrency: 4, limitsRefreshMs: 50 });
      await start({ handlers: { t: h }, queues: ['lim'], concurrency: 4, limitsRefreshMs: 50 });
      const batch = await tasks.submitMany(Array.from({ length: 16 }, () => ({ type: 't', queue: 'lim' })));
      for (const x of batch) assert.equal((await ended(x.id)).status, 'completed');
      // The limit counts running rows (claimed, incl. prefetched) so handlers never exceed it.
      assert.ok(peak <= 2, `peak ${peak}`);
      assert.ok(peak >= 1);
    });
  });
}
