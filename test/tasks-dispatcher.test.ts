import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isSeedCoreError } from '../src/errors.js';
import { backoffDelay } from '../src/tasks/backoff.js';
import { builtinHandlers } from '../src/handlers.js';
import { LazyAbort } from '../src/tasks/context.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { failTasks } from '../src/tasks/completion.js';
import { claimTasks as claimWith } from '../src/tasks/claim.js';
import type { Queryable } from '../src/db/types.js';
import type { TaskContext } from '../src/tasks/types.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { startDispatcher, taskRow, waitFor } from './helpers/tasks.js';

/** Claim the way a worker serving the default queue does. */
function claimTasks(db: Queryable, owner: string, limit: number, types: string[], leaseSeconds: number) {
  return claimWith(db, { owner, limit, types, queues: ['default'], leaseSeconds, agingSeconds: 0, limitsLocked: false });
}

describe('LazyAbort (ctx.signal)', () => {
  it('makes no signal until read; an abort before the first read is kept, with the first reason', () => {
    const a = new LazyAbort();
    a.abort('first');
    a.abort('second');
    assert.equal(a.signal.aborted, true);
    assert.equal(a.signal.reason, 'first');
    assert.equal(a.signal, a.signal, 'one signal, not a new one per read');
  });
  it('fires listeners of a signal read before the abort, once', () => {
    const a = new LazyAbort();
    const signal = a.signal;
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    assert.equal(signal.aborted, false);
    a.abort(new Error('cancelled'));
    a.abort(new Error('again'));
    assert.equal(fired, 1);
    assert.equal((signal.reason as Error).message, 'cancelled');
  });
});

describe('backoff', () => {
  it('is base·2^(n−1), capped, and exact without jitter', () => {
    const o = { baseMs: 100, capMs: 1000, jitter: 0 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, o)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });
  it('jitter stays within ±jitter and uses the injected random source', () => {
    assert.equal(backoffDelay(2, { baseMs: 100, jitter: 0.5, random: () => 0 }), 100);
    assert.equal(backoffDelay(2, { baseMs: 100, jitter: 0.5, random: () => 0.999999 }) > 299, true);
  });
});

for (const kind of BACKENDS) {
  describe(`tasks dispatcher (${kind})`, () => {
    let t: TestDb;
    let c: TaskCoordinator;
    before(async () => {
      t = await freshDb(kind);
      c = new TaskCoordinator(t.db);
    });
    after(async () => t.cleanup());

    it('runs the built-in handlers: result stored, lease columns cleared, attempts = 1', async () => {
      const rows = await c.submitMany([{ type: 'noop' }, { type: 'echo', params: { hello: 'world' } }, { type: 'sleep', params: { ms: 20 } }]);
      const d = await startDispatcher(t.db, { handlers: builtinHandlers(t.db) });
      try {
        await waitFor('all completed', async () => (await Promise.all(rows.map((r) => taskRow(t.db, r.id)))).every((r) => r.status === 'completed'));
      } finally {
        await d.stop({ graceMs: 0 });
      }
      const echo = await c.get((rows[1] as { id: string }).id);
      assert.deepEqual(echo.result, { hello: 'world' });
      assert.equal(echo.attempts, 1);
      assert.equal(echo.owner_id, null);
      assert.equal(echo.locked_by, null);
      assert.equal(echo.lease_expires_at, null);
      assert.deepEqual((await c.get((rows[0] as { id: string }).id)).result, { ok: true });
    });

    it('a handler that always throws runs exactly max_attempts times, with the configured backoff', async () => {
      const starts: number[] = [];
      const row = await c.submit({ type: 'always-fails' });
      const d = await startDispatcher(t.db, {
        handlers: {
          'always-fails': async () => {
            starts.push(Date.now());
            throw new Error(`failure #${starts.length}`);
          },
          marker: async () => undefined,
        },
        maxAttempts: 3,
        pollIntervalMs: 20,
        backoff: { baseMs: 150, jitter: 0 },
      });
      try {
        await waitFor('failed', async () => (await taskRow(t.db, row.id)).status === 'failed');
        // Would a 4th run happen? Its backoff would be 600 ms: a marker due after that time,
        // run by the same worker, shows the worker was still claiming when the 4th run was due.
        const marker = await c.submit({ type: 'marker', run_after: new Date(Date.now() + 700).toISOString() });
        await waitFor('the marker completed', async () => (await taskRow(t.db, marker.id)).status === 'completed');
      } finally {
        await d.stop({ graceMs: 0 });
      }
      assert.equal(starts.length, 3);
      const final = await taskRow(t.db, row.id);
      assert.equal(final.attempts, 3);
      assert.equal(final.error, 'failure #3');
      const gaps = [(starts[1] as number) - (starts[0] as number), (starts[2] as number) - (starts[1] as number)];
      assert.ok((gaps[0] as number) >= 145 && (gaps[1] as number) >= 295, `gaps ${gaps.join(', ')} ms respect 150 ms, 300 ms`);
      assert.ok((gaps[1] as number) < 2000, `gaps ${gaps.join(', ')} ms`);
    });

    it('failure statement: run_after = now() + delay exactly; failed once attempts reach the maximum', async () => {
      const [a, b] = await c.submitMany([{ type: 'fail-sql' }, { type: 'fail-sql' }]);
      await claimTasks(t.db, 'w', 10, ['fail-sql'], 30);
      await t.db.query('UPDATE tasks SET attempts = 3 WHERE id = $1', [(b as { id: string }).id]);
      const res = await t.db.transaction((tx) =>
        failTasks(tx, [
          { id: (a as { id: string }).id, owner: 'w', error: 'e1', delayMs: 1234, maxAttempts: 3 },
          { id: (b as { id: string }).id, owner: 'w', error: 'e2', delayMs: 1234, maxAttempts: 3 },
          { id: (b as { id: string }).id, owner: 'someone-else', error: 'e3', delayMs: 0, maxAttempts: 3 },
        ]),
      );
      assert.deepEqual(new Map(res.map((r) => [r.id, r.status])).get((a as { id: string }).id), 'retry');
      const r = await t.db.query<{ ms: number; status: string }>(
        'SELECT round(extract(epoch FROM run_after - updated_at) * 1000)::int AS ms, status::text AS status FROM tasks WHERE id = $1',
        [(a as { id: string }).id],
      );
      assert.equal(r.rows[0]?.ms, 1234);
      const rb = await taskRow(t.db, (b as { id: string }).id);
      assert.equal(rb.status, 'failed');
      assert.equal(rb.error, 'e2', 'the compare-and-set ignored the wrong owner');
    });

    it('picks up a task inserted by plain SQL', async () => {
      const r = await t.db.query<{ id: string }>("INSERT INTO tasks (type, status, params) VALUES ('echo', 'queued', '{\"sql\": true}') RETURNING id");
      const id = (r.rows[0] as { id: string }).id;
      const d = await startDispatcher(t.db, { handlers: builtinHandlers(t.db) });
      try {
        await waitFor('completed', async () => (await taskRow(t.db, id)).status === 'completed');
      } finally {
        await d.stop({ graceMs: 0 });
      }
      assert.deepEqual((await taskRow(t.db, id)).result, { sql: true });
    });

    it('idle workers wake on NOTIFY within milliseconds (polling every 10 s)', async () => {
      const started = new Map<string, number>();
      const d = await startDispatcher(t.db, {
        handlers: {
          ping: async (task) => {
            started.set(task.id, Date.now());
          },
        },
        pollIntervalMs: 10_000,
      });
      const lat: number[] = [];
      try {
        // Before measuring: the listener's probe saw a notification arrive, and a first ping
        // ran, so the worker is claiming.
        assert.equal(await t.db.notificationsWork(), true, 'notifications arrive on this backend');
        const warmUp = await c.submit({ type: 'ping' });
        await waitFor('the warm-up ping ran', () => started.has(warmUp.id), 5000);
        for (let i = 0; i < 15; i++) {
          const t0 = Date.now();
          const row = await c.submit({ type: 'ping' });
          await waitFor('ping ran', () => started.has(row.id), 3000, 1);
          lat.push((started.get(row.id) as number) - t0);
        }
      } finally {
        await d.stop({ graceMs: 0 });
      }
      lat.sort((a, b) => a - b);
      const p50 = lat[Math.floor(lat.length / 2)] as number;
      assert.ok(p50 < 100, `wake-up p50 ${p50} ms (${lat.join(',')})`);
    });

    it('dependents run after their dependency completes (a → b)', async () => {
      const order: string[] = [];
      const a = await c.submit({ type: 'chain', params: { name: 'a' } });
      const b = await c.submit({ type: 'chain', params: { name: 'b' }, dependsOn: [a.id] });
      const d = await startDispatcher(t.db, {
        handlers: {
          chain: async (task) => {
            order.push(task.params.name as string);
          },
        },
      });
      try {
        await waitFor('b completed', async () => (await taskRow(t.db, b.id)).status === 'completed');
      } finally {
        await d.stop({ graceMs: 0 });
      }
      assert.deepEqual(order, ['a', 'b']);
    });

    it('fan-in: the two parents of each dependent, completed concurrently by two workers, release it exactly once', async () => {
      const n = 40;
      const parents = await c.submitMany(Array.from({ length: 2 * n }, (_, i) => ({ type: i < n ? 'fan-a' : 'fan-b' })));
      const children = await c.submitMany(
        Array.from({ length: n }, (_, i) => ({ type: 'fan-child', dependsOn: [(parents[i] as { id: string }).id, (parents[n + i] as { id: string }).id] })),
      );
      const runs = new Map<string, number>();
      // A random 0-4 ms of work spreads the parents' completions so that pairs finish close together.
      const parent = async (): Promise<void> => new Promise((r) => setTimeout(r, Math.random() * 4));
      const child = async (task: { id: string }): Promise<void> => {
        runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      };
      // Worker 1 completes the 'a' parents and worker 2 the 'b' parents, so the two parents of a
      // dependent are always completed by different transactions, at about the same time. No
      // healing sweep during the test: the release must happen in the completing transaction.
      const opts = { concurrency: 4, prefetch: 0, recoveryIntervalMs: 600_000 };
      const d1 = await startDispatcher(t.db, { ...opts, handlers: { 'fan-a': parent, 'fan-child': child }, ownerId: 'fan-1' });
      const d2 = await startDispatcher(t.db, { ...opts, handlers: { 'fan-b': parent, 'fan-child': child }, ownerId: 'fan-2' });
      const ids = children.map((x) => x.id);
      try {
        await waitFor(
          'all dependents completed',
          async () => {
            const r = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1::uuid[]) AND status = 'completed'", [ids]);
            return r.rows[0]?.n === n;
          },
          15_000,
        );
      } finally {
        await Promise.all([d1.stop({ graceMs: 0 }), d2.stop({ graceMs: 0 })]);
      }
      assert.equal(runs.size, n);
      assert.ok([...runs.values()].every((x) => x === 1));
    });

    it('per-type timeout: the signal fires and the attempt fails', async () => {
      let aborted = false;
      const row = await c.submit({ type: 'slow' });
      const d = await startDispatcher(t.db, {
        handlers: {
          slow: (_task, ctx: TaskContext) =>
            new Promise((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => {
                aborted = true;
                reject(new Error('aborted'));
              });
            }),
        },
        timeouts: { slow: 100 },
        maxAttempts: 1,
      });
      try {
        await waitFor('failed', async () => (await taskRow(t.db, row.id)).status === 'failed');
      } finally {
        await d.stop({ graceMs: 0 });
      }
      assert.equal(aborted, true);
      assert.match((await taskRow(t.db, row.id)).error ?? '', /timed out after 100 ms/);
    });

    it('a handler that first reads ctx.signal after its timeout gets a signal already aborted with the timeout', async () => {
      let seen: { aborted: boolean; reason: unknown } | undefined;
      const row = await c.submit({ type: 'late_reader' });
      const d = await startDispatcher(t.db, {
        handlers: {
          late_reader: async (_task, ctx: TaskContext) => {
            // Works past its 50 ms timeout before it first reads ctx.signal: the late read is the point.
            await new Promise((r) => setTimeout(r, 250));
            seen = { aborted: ctx.signal.aborted, reason: ctx.signal.reason };
          },
        },
        timeouts: { late_reader: 50 },
        maxAttempts: 1,
      });
      try {
        await waitFor('failed', async () => (await taskRow(t.db, row.id)).status === 'failed');
        await waitFor('handler returned', async () => seen !== undefined);
      } finally {
        await d.stop({ graceMs: 0 });
      }
      assert.equal(seen?.aborted, true);
      assert.ok(isSeedCoreError(seen?.reason, 'SEEDCORE_TIMEOUT'));
    });

    it('a result over resultMaxBytes fails the task without retry; ctx.facts without a provider throws', async () => {
      const big = await c.submit({ type: 'big' });
      const facts = await c.submit({ type: 'facts' });
      let factsError: unknown;
      const d = await startDispatcher(t.db, {
        handlers: {
          big: async () => ({ blob: 'x'.repeat(200) }),
          facts: async (_task, ctx) => {
            try {
              await ctx.facts.search('x');
            } catch (e) {
              factsError = e;
            }
            await ctx.heartbeat();
            ctx.progress(1, 2);
            return 'ok';
          },
        },
        resultMaxBytes: 100,
      });
      try {
        await waitFor('both ended', async () => (await taskRow(t.db, big.id)).status === 'failed' && (await taskRow(t.db, facts.id)).status === 'completed');
      } finally {
        await d.stop({ graceMs: 0 });
      }
      const b = await taskRow(t.db, big.id);
      assert.equal(b.attempts, 1);
      assert.match(b.error ?? '', /result too large/);
      assert.ok(isSeedCoreError(factsError, 'SEEDCORE_UNAVAILABLE'));
    });

    it('only claims the types it has handlers for', async () => {
      const other = await c.submit({ type: 'not-mine' });
      const d = await startDispatcher(t.db, { handlers: builtinHandlers(t.db) });
      // Positive control: a task of a handled type, submitted after, is claimed and run, so the
      // worker was claiming while 'not-mine' stayed queued.
      const marker = await c.submit({ type: 'echo', params: { marker: true } });
      await waitFor('the marker completed', async () => (await taskRow(t.db, marker.id)).status === 'completed');
      await d.stop({ graceMs: 0 });
      assert.equal((await taskRow(t.db, other.id)).status, 'queued');
      await assert.rejects(
        startDispatcher(t.db, { handlers: {}, types: ['x'] }),
        (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT') && /no handler/.test(e.message),
      );
    });
  });
}
