import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { claimTasks, claimWithLimits, expireTasks } from '../src/tasks/claim.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { setQueueLimit } from '../src/tasks/queues.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { waitFor } from './helpers/wait.js';

const base = { owner: 'w1', types: ['t'], queues: ['default'], leaseSeconds: 30, agingSeconds: 0, limitsLocked: false };

for (const kind of BACKENDS) {
  describe(`priority, queues, windows and dedup on ${kind}`, () => {
    let t: TestDb;
    let tasks: TaskCoordinator;
    before(async () => {
      t = await freshDb(kind);
      tasks = new TaskCoordinator(t.db);
    });
    after(async () => t.cleanup());
    beforeEach(async () => {
      await t.db.exec('DELETE FROM tasks; DELETE FROM queue_limits;');
    });

    it('stores the new fields, with defaults, and rejects bad values writing nothing', async () => {
      const plain = await tasks.submit({ type: 't' });
      assert.equal(plain.priority, 'normal');
      assert.equal(plain.queue, 'default');
      assert.equal(plain.max_attempts, null);
      assert.equal(plain.timeout_seconds, null);
      const full = await tasks.submit({
        type: 't',
        priority: 'critical',
        queue: 'gpu',
        max_attempts: 5,
        timeout_seconds: 1.5,
        dedup_key: 'k',
        expires_at: '2099-01-01T00:00:00Z',
      });
      assert.deepEqual(
        [full.priority, full.queue, full.max_attempts, full.timeout_seconds, full.dedup_key, full.expires_at?.toISOString()],
        ['critical', 'gpu', 5, 1.5, 'k', '2099-01-01T00:00:00.000Z'],
      );
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ priority: 'urgent' }, /priority: expected one of critical, high, normal, low/],
        [{ queue: '' }, /queue/],
        [{ max_attempts: 0 }, /max_attempts/],
        [{ max_attempts: 1.5 }, /max_attempts/],
        [{ timeout_seconds: -1 }, /timeout_seconds/],
        [{ dedup_key: 5 }, /dedup_key/],
        [{ expires_at: 'soon' }, /expires_at/],
        [{ run_after: '2030-01-02T00:00:00Z', expires_at: '2030-01-01T00:00:00Z' }, /window would be empty/],
      ];
      for (const [extra, re] of bad) {
        await assert.rejects(
          tasks.submit({ type: 't', ...extra }),
          (e: Error & { code?: string }) => e.code === 'SEEDCORE_INVALID_INPUT' && re.test(e.message),
        );
      }
      assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks')).rows[0]?.n, 2);
    });

    it('claims in priority order, then due time, then age (strict when agingSeconds = 0)', async () => {
      const low = await tasks.submit({ type: 't', priority: 'low' });
      const normal = await tasks.submit({ type: 't' });
      const high = await tasks.submit({ type: 't', priority: 'high' });
      const crit = await tasks.submit({ type: 't', priority: 'critical' });
      const crit2 = await tasks.submit({ type: 't', priority: 'critical' });
      // crit2 is due earlier than crit (run_after in the past): due time orders within a level.
      await t.db.query("UPDATE tasks SET run_after = now() - interval '1 minute' WHERE id = $1", [crit2.id]);
      await tasks.submit({ type: 't', priority: 'critical', run_after: new Date(Date.now() + 3_600_000) }); // not due
      const order: string[] = [];
      for (let i = 0; i < 6; i++) {
        const got = await claimTasks(t.db, { ...base, limit: 1 });
        if (got[0]) order.push(got[0].id);
      }
      assert.deepEqual(order, [crit2.id, crit.id, high.id, normal.id, low.id]);
    });

    it('aging: a low task waiting long enough overtakes fresh critical ones; strict priority would starve it', async () => {
      const low = await tasks.submit({ type: 't', priority: 'low' });
      await t.db.query("UPDATE tasks SET created_at = now() - interval '10 minutes' WHERE id = $1", [low.id]);
      await tasks.submitMany(Array.from({ length: 20 }, () => ({ type: 't', priority: 'critical' as const })));
      // Strict: the 20 critical tasks first (a steady stream of them would starve the low one forever).
      const strictFirst = await claimTasks(t.db, { ...base, limit: 20 });
      assert.equal(strictFirst.length, 20);
      assert.ok(!strictFirst.some((x) => x.id === low.id), 'strict priority takes the 20 critical tasks first');
      await t.db.exec("UPDATE tasks SET status = 'queued', owner_id = NULL, attempts = 0 WHERE status = 'running'");
      // Aging 60 s: waiting 10 min lifts low (level 3) by 10 levels → competes as critical, and is due earliest.
      const aged = await claimTasks(t.db, { ...base, limit: 1, agingSeconds: 60 });
      assert.equal(aged[0]?.id, low.id);
      // Aging 300 s: 10 min lifts it 2 levels only (to high): critical tasks still go first.
      await t.db.exec("UPDATE tasks SET status = 'queued', owner_id = NULL, attempts = 0 WHERE status = 'running'");
      const slower = await claimTasks(t.db, { ...base, limit: 1, agingSeconds: 300 });
      assert.notEqual(slower[0]?.id, low.id);
    });

    it('serves only the named queues', async () => {
      await tasks.submitMany([{ type: 't', queue: 'a' }, { type: 't', queue: 'b' }, { type: 't', queue: 'c' }, { type: 't' }]);
      const got = await claimTasks(t.db, { ...base, limit: 10, queues: ['a', 'c'] });
      assert.deepEqual(got.map((x) => x.queue).sort(), ['a', 'c']);
      const rest = await claimTasks(t.db, { ...base, limit: 10 });
      assert.deepEqual(
        rest.map((x) => x.queue),
        ['default'],
      );
      assert.equal(rest[0]?.max_attempts, null);
    });

    it('time window: not claimed after expires_at; the sweep cancels it as expired, with its dependents', async () => {
      const gone = await tasks.submit({ type: 't', expires_at: new Date(Date.now() + 50) });
      const dependent = await tasks.submit({ type: 't', dependsOn: [gone.id] });
      const open = await tasks.submit({ type: 't', expires_at: new Date(Date.now() + 3_600_000) });
      await waitFor(
        "the database's clock to pass the first task's expires_at",
        async () => (await t.db.query<{ past: boolean }>('SELECT clock_timestamp() > expires_at AS past FROM tasks WHERE id = $1', [gone.id])).rows[0]?.past,
      );
      const got = await claimTasks(t.db, { ...base, limit: 10 });
      assert.deepEqual(
        got.map((x) => x.id),
        [open.id],
      );
      const expired = await t.db.transaction(async (tx) => {
        const ids = await expireTasks(tx);
        const { cancelDependents } = await import('../src/tasks/dependencies.js');
        await cancelDependents(tx, ids);
        return ids;
      });
      assert.deepEqual(expired, [gone.id]);
      const g = await tasks.get(gone.id);
      assert.deepEqual([g.status, g.error], ['cancelled', 'expired']);
      assert.equal((await tasks.get(dependent.id)).status, 'cancelled');
      assert.equal((await tasks.get(open.id)).status, 'running', 'a running task is not expired');
      assert.deepEqual(await expireTasks(t.db), []);
    });

    it('dedup: one live task per key; a duplicate returns the existing task; a new one after it ends', async () => {
      const a = await tasks.submit({ type: 't', dedup_key: 'report:42' });
      const b = await tasks.submit({ type: 't', dedup_key: 'report:42', params: { other: true } });
      assert.equal(b.id, a.id);
      assert.deepEqual(b.params, {}, 'the existing task is returned unchanged');
      const batch = await tasks.submitMany([
        { type: 't', dedup_key: 'x' },
        { type: 't', dedup_key: 'x' },
        { type: 't', dedup_key: 'report:42' },
        { type: 't' },
      ]);
      assert.equal(batch[0]?.id, batch[1]?.id);
      assert.equal(batch[2]?.id, a.id);
      assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks')).rows[0]?.n, 3);
      // Through the transactional path (dependencies): the duplicate gets no edges.
      const dep = await tasks.submit({ type: 't', dedup_key: 'report:42', dependsOn: [batch[3]?.id as string] });
      assert.equal(dep.id, a.id);
      assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_depends_on_task')).rows[0]?.n, 0);
      await tasks.cancel(a.id);
      const c = await tasks.submit({ type: 't', dedup_key: 'report:42' });
      assert.notEqual(c.id, a.id);
      // The unique index enforces it even for writers that bypass submit().
      await assert.rejects(t.db.query("INSERT INTO tasks (type, status, dedup_key) VALUES ('t', 'queued', 'report:42')"));
    });

    it('queue limits: a limited queue is skipped without the lock, filled to its free slots with it; 0 pauses', async () => {
      await tasks.submitMany(Array.from({ length: 6 }, () => ({ type: 't', queue: 'lim' })));
      await tasks.submitMany(Array.from({ length: 3 }, () => ({ type: 't' })));
      await setQueueLimit(t.db, 'lim', 2);
      const o = { ...base, limit: 10, queues: ['lim', 'default'] };
      const unlocked = await claimTasks(t.db, o);
      assert.deepEqual(
        unlocked.map((x) => x.queue),
        ['default', 'default', 'default'],
      );
      const first = await claimWithLimits(t.db, o, ['lim']);
      assert.equal(first.length, 2);
      assert.equal((await claimWithLimits(t.db, o, ['lim'])).length, 0, 'at its limit');
      await t.db.query("UPDATE tasks SET status = 'completed' WHERE id = $1", [first[0]?.id]);
      assert.equal((await claimWithLimits(t.db, o, ['lim'])).length, 1, 'one slot freed');
      await setQueueLimit(t.db, 'lim', 0);
      await t.db.exec("UPDATE tasks SET status = 'completed' WHERE status = 'running'");
      assert.equal((await claimWithLimits(t.db, o, ['lim'])).length, 0, '0 pauses the queue');
      await setQueueLimit(t.db, 'lim', null);
      assert.equal((await claimTasks(t.db, o)).length, 3, 'no limit: all remaining');
    });

    if (kind === 'postgres') {
      it('8 parallel claimers racing a writer that rewrites the queued rows claim every task exactly once', async () => {
        // The claim updates the row versions it locked (by ctid). The writer keeps making new
        // versions of queued rows, so claims meet rows whose newest version their snapshot
        // cannot see: such a row may be skipped by one claim, but never claimed twice or lost.
        const n = 2000;
        await tasks.submitMany(Array.from({ length: n }, () => ({ type: 't' })));
        let writing = true;
        let rewrites = 0;
        const writer = (async () => {
          while (writing) {
            const r = await t.db.query(
              "UPDATE tasks SET description = 'rewritten', updated_at = clock_timestamp() WHERE id IN (SELECT id FROM tasks WHERE status = 'queued' ORDER BY random() LIMIT 50)",
            );
            rewrites += r.rowCount;
          }
        })();
        const seen = new Map<string, number>();
        try {
          for (let round = 0; round < 200; round++) {
            const batches = await Promise.all(Array.from({ length: 8 }, (_, i) => claimTasks(t.db, { ...base, owner: `w${i}`, limit: 40 })));
            for (const b of batches) for (const row of b) seen.set(row.id, (seen.get(row.id) ?? 0) + 1);
            if (seen.size === n) break;
          }
        } finally {
          writing = false;
          await writer;
        }
        assert.ok(rewrites > 0, 'the writer made new row versions while claims ran');
        assert.equal(seen.size, n, 'every task claimed');
        assert.deepEqual([...new Set(seen.values())], [1], 'no task claimed twice');
        const rows = await t.db.query<{ status: string; attempts: number; n: number }>(
          'SELECT status::text AS status, attempts, count(*)::int AS n FROM tasks GROUP BY 1, 2',
        );
        assert.deepEqual(rows.rows, [{ status: 'running', attempts: 1, n }]);
      });

      it('queue limits hold under 12 parallel claimers on separate connections', async () => {
        await tasks.submitMany(Array.from({ length: 200 }, () => ({ type: 't', queue: 'lim' })));
        await setQueueLimit(t.db, 'lim', 5);
        const o = { ...base, limit: 3, queues: ['lim'] };
        let maxRunning = 0;
        let before = 0;
        for (let round = 0; round < 10; round++) {
          const claimed = await Promise.all(Array.from({ length: 12 }, (_, i) => claimWithLimits(t.db, { ...o, owner: `w${i}` }, ['lim'])));
          const running = (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status = 'running'")).rows[0]?.n ?? 0;
          assert.equal(before + claimed.reduce((n, c) => n + c.length, 0), running);
          maxRunning = Math.max(maxRunning, running);
          // finish a few, so claimers compete for freed slots
          await t.db.exec("UPDATE tasks SET status = 'completed' WHERE id IN (SELECT id FROM tasks WHERE status = 'running' LIMIT 3)");
          before = Math.max(0, running - 3);
        }
        assert.equal(maxRunning, 5);
      });
    }
  });
}
