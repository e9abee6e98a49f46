import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../src/db/types.js';
import { isSeedCoreError } from '../src/errors.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { completeAny, failTasks } from '../src/tasks/completion.js';
import { claimTasks as claimWith } from '../src/tasks/claim.js';
import type { Queryable } from '../src/db/types.js';
import { promoteDependents, cancelDependents } from '../src/tasks/dependencies.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

/** Claim the way a worker serving the default queue does. */
function claimTasks(db: Queryable, owner: string, limit: number, types: string[], leaseSeconds: number) {
  return claimWith(db, { owner, limit, types, queues: ['default'], leaseSeconds, agingSeconds: 0, limitsLocked: false });
}

async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) x`, params);
  return r.rows[0]?.n ?? -1;
}

async function status(db: Db, id: string): Promise<string> {
  const r = await db.query<{ status: string }>('SELECT status::text AS status FROM tasks WHERE id = $1', [id]);
  return r.rows[0]?.status ?? 'missing';
}

/** Run one task to completion the way a worker does (claim, then complete with its hooks in one transaction). */
async function runToCompletion(db: Db, id: string, type: string): Promise<void> {
  const claimed = await claimTasks(db, 'w-test', 100, [type], 30);
  assert.ok(
    claimed.some((c) => c.id === id),
    'task was claimable',
  );
  await db.transaction(async (tx) => {
    const done = await completeAny(
      tx,
      claimed.filter((c) => c.id === id).map((c) => ({ id: c.id, owner: 'w-test', result: '{"ok":true}' })),
    );
    await promoteDependents(tx, done);
  });
}

for (const kind of BACKENDS) {
  describe(`tasks coordinator (${kind})`, () => {
    let t: TestDb;
    let c: TaskCoordinator;
    before(async () => {
      t = await freshDb(kind);
      c = new TaskCoordinator(t.db);
    });
    after(async () => t.cleanup());

    it('submits one task with every field and reads it back by id and by prefix', async () => {
      const runAfter = new Date(Date.now() + 60_000);
      const row = await c.submit({ type: 't', params: { a: 1 }, description: 'd', domain: 'dom', drift_score: 0.7, run_after: runAfter });
      assert.equal(row.status, 'queued');
      assert.equal(row.attempts, 0);
      assert.deepEqual(row.params, { a: 1 });
      assert.equal(row.drift_score, 0.7);
      assert.equal(row.run_after?.toISOString(), runAfter.toISOString());
      const got = await c.get(row.id.slice(0, 8));
      assert.equal(got.id, row.id);
      assert.equal(got.domain, 'dom');
    });

    it('submitMany writes all rows in input order in one statement', async () => {
      const rows = await c.submitMany([{ type: 'x1' }, { type: 'x2' }, { type: 'x3' }]);
      assert.deepEqual(
        rows.map((r) => r.type),
        ['x1', 'x2', 'x3'],
      );
      assert.equal(await count(t.db, "SELECT 1 FROM tasks WHERE type IN ('x1','x2','x3')"), 3);
    });

    it('rejects unknown fields, wrong types and missing dependencies, writing nothing', async () => {
      const before = await count(t.db, 'SELECT 1 FROM tasks');
      const bad: unknown[] = [
        { type: 't', colour: 'red' },
        { type: '' },
        { type: 't', params: [1, 2] },
        { type: 't', drift_score: 'high' },
        { type: 't', run_after: 'not a date' },
        { type: 't', dependsOn: ['nope'] },
        { type: 't', description: 42 },
      ];
      for (const input of bad) {
        await assert.rejects(
          c.submitMany([{ type: 'ok-first' }, input as { type: string }]),
          (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'),
          JSON.stringify(input),
        );
      }
      await assert.rejects(c.submitMany([{ type: 'ok-first' }, { type: 't', dependsOn: [randomUUID()] }]), (e: unknown) =>
        isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'),
      );
      assert.equal(await count(t.db, 'SELECT 1 FROM tasks'), before);
    });

    it('get: unknown id → NOT_FOUND, ambiguous prefix → AMBIGUOUS_ID, garbage → INVALID_INPUT', async () => {
      await assert.rejects(c.get(randomUUID()), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
      const ids = ['abcd0000-0000-4000-8000-000000000001', 'abcd0000-0000-4000-8000-000000000002'];
      await c.submitMany(ids.map((id) => ({ id, type: 'prefix' })));
      await assert.rejects(c.get('abcd0000'), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_AMBIGUOUS_ID'));
      await assert.rejects(c.get('abcd0000-0000-4000-8000-00000000000'), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_AMBIGUOUS_ID'));
      assert.equal((await c.get(ids[1] as string)).id, ids[1]);
      await assert.rejects(c.get('xyz'), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
    });

    it('lists with filters and keyset pagination over (created_at, id)', async () => {
      const made = await c.submitMany(Array.from({ length: 7 }, (_, i) => ({ type: 'page', domain: i % 2 ? 'odd' : 'even' })));
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await c.list({ type: 'page', limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((x) => x.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      assert.equal(seen.length, 7);
      assert.deepEqual(new Set(seen), new Set(made.map((m) => m.id)));
      const odd = await c.list({ type: 'page', domain: 'odd' });
      assert.equal(odd.items.length, 3);
      const queued = await c.list({ type: 'page', status: ['queued'] });
      assert.equal(queued.items.length, 7);
      await assert.rejects(c.list({ status: 'bogus' as 'queued' }), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      await assert.rejects(c.list({ cursor: 'bad' }), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
    });

    it('dependencies: created until the last dependency completes, queued in that same transaction', async () => {
      const [a, b] = await c.submitMany([{ type: 'dep-a' }, { type: 'dep-b' }]);
      const d = await c.submit({ type: 't', dependsOn: [(a as { id: string }).id, (b as { id: string }).id] });
      assert.equal(d.status, 'created');
      await runToCompletion(t.db, (a as { id: string }).id, 'dep-a');
      assert.equal(await status(t.db, d.id), 'created');
      await runToCompletion(t.db, (b as { id: string }).id, 'dep-b');
      assert.equal(await status(t.db, d.id), 'queued');
      // A dependency that is already completed does not hold a new task back.
      const e = await c.submit({ type: 't', dependsOn: [(a as { id: string }).id] });
      assert.equal(e.status, 'queued');
    });

    it('a dependency that fails cancels its dependents transitively, naming it', async () => {
      const [root, mid, leaf] = [randomUUID(), randomUUID(), randomUUID()];
      await c.submitMany([
        { id: root, type: 'dep-root' },
        { id: mid, type: 'dep-mid', dependsOn: [root] },
        { id: leaf, type: 'dep-leaf', dependsOn: [mid] },
      ]);
      assert.equal(await status(t.db, mid), 'created');
      const claimed = await claimTasks(t.db, 'w-test', 10, ['dep-root'], 30);
      assert.equal(claimed.length, 1);
      await t.db.transaction(async (tx) => {
        const r = await failTasks(tx, [{ id: root, owner: 'w-test', error: 'boom', delayMs: 0, maxAttempts: 1 }]);
        assert.equal(r[0]?.status, 'failed');
        await cancelDependents(tx, [root]);
      });
      for (const id of [mid, leaf]) {
        const row = await c.get(id);
        assert.equal(row.status, 'cancelled');
        assert.match(row.error ?? '', new RegExp(`dependency ${root} ended failed`));
      }
      // Depending on a failed task is refused.
      await assert.rejects(c.submit({ type: 't', dependsOn: [root] }), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'));
    });

    it('rejects dependency cycles and self-dependencies within a batch', async () => {
      const [x, y, z] = [randomUUID(), randomUUID(), randomUUID()];
      await assert.rejects(
        c.submitMany([
          { id: x, type: 't', dependsOn: [z] },
          { id: y, type: 't', dependsOn: [x] },
          { id: z, type: 't', dependsOn: [y] },
        ]),
        (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT') && /cycle/.test(e.message),
      );
      await assert.rejects(c.submit({ id: x, type: 't', dependsOn: [x] }), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      assert.equal(await count(t.db, 'SELECT 1 FROM tasks WHERE id = ANY($1::uuid[])', [[x, y, z]]), 0);
    });

    it('cancel: ends a waiting task and its dependents; a finished task → CONFLICT', async () => {
      const a = await c.submit({ type: 'cancel-me' });
      const b = await c.submit({ type: 't', dependsOn: [a.id] });
      const cancelled = await c.cancel(a.id.slice(0, 10));
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(await status(t.db, b.id), 'cancelled');
      await assert.rejects(c.cancel(a.id), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'));
      await assert.rejects(c.cancel(randomUUID()), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
    });

    it('retry: failed/cancelled → queued with attempts reset; dependents wait for it again', async () => {
      const a = await c.submit({ type: 'retry-me' });
      await t.db.query("UPDATE tasks SET status = 'failed', attempts = 3, error = 'x' WHERE id = $1", [a.id]);
      const r = await c.retry(a.id);
      assert.equal(r.status, 'queued');
      assert.equal(r.attempts, 0);
      assert.equal(r.error, null);
      await assert.rejects(c.retry(a.id), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'));
      // A cancelled dependent cannot be retried while its dependency is failed.
      const p = await c.submit({ type: 'retry-parent' });
      const ch = await c.submit({ type: 't', dependsOn: [p.id] });
      await c.cancel(p.id);
      await assert.rejects(c.retry(ch.id), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'));
      await c.retry(p.id);
      assert.equal((await c.retry(ch.id)).status, 'created');
    });

    it('binds agents and organs through the edge tables (registering them if new)', async () => {
      const row = await c.submit({ type: 't', agentId: 'agent-7', organId: 'organ-7' });
      assert.equal(await count(t.db, 'SELECT 1 FROM task_owned_by_agent WHERE task_id = $1 AND agent_id = $2', [row.id, 'agent-7']), 1);
      assert.equal(await count(t.db, 'SELECT 1 FROM task_executed_by_organ WHERE task_id = $1 AND organ_id = $2', [row.id, 'organ-7']), 1);
      assert.equal(await count(t.db, "SELECT 1 FROM organ_registry WHERE organ_id = 'organ-7' AND agent_id = 'agent-7'"), 1);
      // the same agent again: no duplicate registration error
      await c.submit({ type: 't', agentId: 'agent-7' });
    });

    it("submits inside the caller's transaction (rolled back with it)", async () => {
      const id = randomUUID();
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await c.submit({ id, type: 'tx', dependsOn: [] }, { tx });
          await c.submitMany([{ type: 'tx', agentId: 'agent-tx' }], { tx });
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal(await status(t.db, id), 'missing');
      await t.db.transaction(async (tx) => {
        await c.submit({ id, type: 'tx' }, { tx });
      });
      assert.equal(await status(t.db, id), 'queued');
    });

    it('stats and cleanupStale (the SQL admin function)', async () => {
      const s = await c.stats();
      assert.ok(s.queued > 0);
      const row = await c.submit({ type: 'stale' });
      await t.db.query("UPDATE tasks SET status = 'running', attempts = 1, owner_id = 'gone', lease_expires_at = now() - interval '1 minute' WHERE id = $1", [
        row.id,
      ]);
      assert.equal(await c.cleanupStale({ staleMinutes: 15, maxAttempts: 3 }), 1);
      const after = await c.get(row.id);
      assert.equal(after.status, 'retry');
      assert.equal(after.attempts, 1, 'cleanup does not count the attempt again');
      assert.equal(after.owner_id, null);
    });
  });
}
