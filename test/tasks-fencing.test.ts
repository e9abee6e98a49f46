import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isSeedCoreError } from '../src/errors.js';
import { RegistryClient } from '../src/registry/client.js';
import { claimTasks } from '../src/tasks/claim.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import type { DispatcherEvent } from '../src/tasks/dispatcher.js';
import { Dispatcher } from '../src/tasks/dispatcher.js';
import { resolveOptions } from '../src/tasks/dispatcher-options.js';
import { fenceMarginMs, heartbeatSecondsFor } from '../src/tasks/timing.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { cuttable } from './helpers/cuttable-db.js';
import { deferred, startDispatcher, taskRow, waitFor } from './helpers/tasks.js';

describe('timing defaults', () => {
  it('the heartbeat follows the lease (a third, at most 5 s) and short leases validate', () => {
    assert.equal(heartbeatSecondsFor(3), 1);
    assert.equal(heartbeatSecondsFor(30), 5);
    for (const leaseSeconds of [1, 3, 5, 30, 600]) {
      const { options } = resolveOptions({ handlers: { x: async () => null }, leaseSeconds });
      assert.ok(options.heartbeatSeconds * 1000 < leaseSeconds * 1000 - fenceMarginMs(leaseSeconds), `lease ${leaseSeconds}`);
    }
    assert.throws(
      () => resolveOptions({ handlers: { x: async () => null }, leaseSeconds: 5, heartbeatSeconds: 5 }),
      /heartbeatSeconds must be shorter than leaseSeconds/,
    );
  });
});

for (const kind of BACKENDS) {
  describe(`self-fencing and fair recovery (${kind})`, () => {
    let t: TestDb;
    let c: TaskCoordinator;
    before(async () => {
      t = await freshDb(kind);
      c = new TaskCoordinator(t.db);
    });
    after(async () => t.cleanup());

    it('a worker that cannot renew stops claiming and aborts its handler (lease unrenewable) before its lease expires', async () => {
      const link = cuttable(t.db);
      const [task] = await c.submitMany([{ type: 'long-fence' }]);
      const started = deferred();
      const aborted = deferred<{ reason: unknown; leaseLeftMs: number; delayMs: number }>();
      const events: DispatcherEvent[] = [];
      const d = new Dispatcher(link.db, {
        leaseSeconds: 2,
        pollIntervalMs: 50,
        listen: false,
        schedules: false,
        onEvent: (e) => events.push(e),
        handlers: {
          'long-fence': async (_task, ctx) => {
            started.resolve();
            await new Promise<void>((resolve) => {
              ctx.signal.addEventListener('abort', () => {
                // Measured through the real database: the lease must still be running. Time
                // between the abort and the query's execution counts against it (conservative).
                const abortedAt = Date.now();
                void t.db
                  .query<{ ms: number; at: number }>('SELECT extract(epoch FROM lease_expires_at - clock_timestamp()) * 1000 AS ms FROM tasks WHERE id = $1', [
                    task!.id,
                  ])
                  .then((r) => aborted.resolve({ reason: ctx.signal.reason, leaseLeftMs: Number(r.rows[0]?.ms), delayMs: Date.now() - abortedAt }));
                resolve();
              });
            });
            return 'should not be stored';
          },
          later: async () => 'ran after the link came back',
        },
      });
      await d.start();
      try {
        await started.promise;
        link.cut();
        const { reason, leaseLeftMs, delayMs } = await aborted.promise;
        assert.ok(isSeedCoreError(reason, 'SEEDCORE_FENCED'), `abort reason ${String(reason)}`);
        assert.match((reason as Error).message, /lease unrenewable/);
        // On a server other workers could take the task over at lease expiry, so the abort must
        // come first. PGlite runs in this thread (a long statement there also holds back the
        // fence check) and has no other worker to take over: there the abort is only required.
        if (kind === 'postgres') assert.ok(leaseLeftMs > 0, `the lease had ${leaseLeftMs} ms left when the handler was aborted (measured ${delayMs} ms later)`);
        assert.equal(d.fetchMode, 'paused', 'no claims while renewals fail');
        assert.ok(events.some((e) => e.kind === 'fenced' && e.ids.includes(task!.id)));
        link.restore();
        // Positive control: with the link back the worker claims again.
        const [later] = await c.submitMany([{ type: 'later' }]);
        await waitFor('the later task completed', async () => (await taskRow(t.db, later!.id)).status === 'completed');
        // The fenced task was recovered at lease expiry; the fenced run never wrote its outcome.
        await waitFor(
          'the fenced task was recovered (and maybe claimed again)',
          async () => {
            const r = await taskRow(t.db, task!.id);
            return r.status !== 'running' || r.attempts >= 2;
          },
          10_000,
        );
        const row = await taskRow(t.db, task!.id);
        assert.notEqual(row.result, 'should not be stored');
      } finally {
        link.restore();
        await d.stop({ graceMs: 0 });
      }
    });

    it("an outcome write that fails is retried until it lands: a handler's success stays a success", async () => {
      const link = cuttable(t.db);
      const [task] = await c.submitMany([{ type: 'ok-through-cut' }]);
      const d = await startDispatcher(link.db, {
        leaseSeconds: 4,
        heartbeatSeconds: 1,
        listen: false,
        schedules: false,
        handlers: {
          'ok-through-cut': async () => {
            link.cut();
            // The outage under test: the outcome write fails for 1.5 s, then the link comes back.
            setTimeout(() => link.restore(), 1500);
            return { fine: true };
          },
        },
      });
      try {
        await waitFor('completed', async () => (await taskRow(t.db, task!.id)).status === 'completed', 15_000);
      } finally {
        link.restore();
        await d.stop({ graceMs: 0 });
      }
      const row = await taskRow(t.db, task!.id);
      assert.deepEqual(row.result, { fine: true });
      assert.equal(row.attempts, 1);
    });

    it('a recovered task keeps its place among the due tasks and runs within a poll interval', async () => {
      const backlogStart = Date.now();
      const [old] = await c.submitMany([{ type: 'fair', params: { n: 'recovered' } }]);
      // Its worker vanished mid-run: running, lease expired, owned by nobody alive.
      await t.db.query(
        `UPDATE tasks SET status = 'running', owner_id = 'gone-worker', attempts = 1, lease_expires_at = now() - interval '1 second',
                created_at = now() - interval '1 minute' WHERE id = $1`,
        [old!.id],
      );
      await c.submitMany(Array.from({ length: 20 }, (_, i) => ({ type: 'fair', params: { n: i } })));
      const order: string[] = [];
      let ranBeforeRecovery = -1;
      const events: DispatcherEvent[] = [];
      const d = await startDispatcher(t.db, {
        concurrency: 1,
        prefetch: 0,
        pollIntervalMs: 1000,
        recoveryIntervalMs: 100,
        schedules: false,
        onEvent: (e) => {
          events.push(e);
          if (e.kind === 'recovered' && e.ids.includes(old!.id)) ranBeforeRecovery = order.length;
        },
        handlers: {
          fair: async (task) => {
            order.push(task.id);
            // 20 ms per task keeps the worker busy with the backlog while the recovery pass runs.
            await new Promise((r) => setTimeout(r, 20));
            return null;
          },
        },
      });
      try {
        await waitFor('the recovered task ran', () => order.includes(old!.id), 10_000);
      } finally {
        await d.stop({ graceMs: 1000 });
      }
      const position = order.indexOf(old!.id);
      assert.ok(ranBeforeRecovery >= 0, 'it was recovered');
      // The worker was busy with the backlog when the recovery pass ran; the recovered task is
      // the next one it claims (at most one claim was already on its way), not the 21st.
      assert.ok(position - ranBeforeRecovery <= 1, `ran ${position - ranBeforeRecovery} tasks after its recovery (backlog of 20)`);
      assert.ok(order.length < 21, 'ahead of the backlog');
      assert.ok(Date.now() - backlogStart < 10_000);
      const row = await taskRow(t.db, old!.id);
      assert.equal(row.status, 'completed');
      assert.equal(row.attempts, 2);
    });

    it('a registered claimer claims nothing once its instance is dead; alive, the same claim works', async () => {
      const [a] = await c.submitMany([{ type: 'guarded' }]);
      const client = new RegistryClient(t.db, { logicalId: 'fence-test', heartbeatBaseMs: 60_000, logger: { info() {}, warn() {} } });
      const id = await client.start();
      try {
        const o = { limit: 10, types: ['guarded'], queues: ['default'], leaseSeconds: 30, agingSeconds: 0, limitsLocked: false };
        await t.db.query("SELECT set_instance_status($1::uuid, 'dead')", [id]);
        assert.deepEqual(await claimTasks(t.db, { ...o, owner: id, aliveInstance: id }), [], 'dead instance');
        assert.equal((await taskRow(t.db, a!.id)).status, 'queued');
        const otherClient = new RegistryClient(t.db, { logicalId: 'fence-test-2', heartbeatBaseMs: 60_000, logger: { info() {}, warn() {} } });
        const other = await otherClient.start();
        const got = await claimTasks(t.db, { ...o, owner: other, aliveInstance: other }).finally(() => otherClient.close());
        assert.deepEqual(
          got.map((r) => r.id),
          [a!.id],
          'the same claim by an alive instance takes the task',
        );
      } finally {
        await client.close();
      }
    });
  });
}
