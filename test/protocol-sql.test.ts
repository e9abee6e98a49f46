/**
 * The worker protocol: the same behaviour checks against the stored functions of migration
 * 020 (what workers in other languages call) and against the TypeScript dispatcher's
 * statements, so the two paths cannot drift apart unnoticed. The claim is one function on
 * both paths (claim_tasks_core, migration 027): claim_tasks() with its owner fence and
 * argument checks on one, the dispatcher's call with its alive-instance and queue-limit
 * options on the other.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Db } from '../src/db/types.js';
import { backoffDelay } from '../src/tasks/backoff.js';
import { claimTasks, claimWithLimits, limitedQueues } from '../src/tasks/claim.js';
import { cancelDependents, promoteDependents } from '../src/tasks/dependencies.js';
import { completeAny, failTasks } from '../src/tasks/completion.js';
import { renewLeases } from '../src/tasks/lease.js';
import { recoverStale } from '../src/tasks/recovery.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

interface ClaimOpts {
  types?: string[];
  queues?: string[];
  lease?: number;
  aging?: number;
}

interface Claimed {
  id: string;
  type: string;
  attempts: number;
}

/** One implementation of the worker protocol. */
interface Protocol {
  claim(owner: string, limit: number, o?: ClaimOpts): Promise<Claimed[]>;
  renew(owner: string, ids: string[], lease: number): Promise<string[]>;
  complete(id: string, owner: string, result: unknown): Promise<boolean>;
  fail(id: string, owner: string, error: string, delaySeconds?: number, maxAttempts?: number): Promise<string | null>;
  recover(): Promise<{ id: string; status: string }[]>;
}

const TYPES = ['t', 'u'];

function sqlProtocol(db: Db): Protocol {
  return {
    async claim(owner, limit, o = {}) {
      const r = await db.query<Claimed>('SELECT id, type, attempts FROM claim_tasks($1, $2, $3, $4, $5, $6)', [
        owner,
        limit,
        o.lease ?? 30,
        o.types ?? TYPES,
        o.queues ?? ['default'],
        o.aging ?? 0,
      ]);
      return r.rows;
    },
    async renew(owner, ids, lease) {
      return (await db.query<{ id: string }>('SELECT id FROM renew_task_leases($1, $2::uuid[], $3) AS id', [owner, ids, lease])).rows.map((r) => r.id);
    },
    async complete(id, owner, result) {
      return (await db.query<{ ok: boolean }>('SELECT complete_task($1, $2, $3::jsonb) AS ok', [id, owner, JSON.stringify(result)])).rows[0]?.ok === true;
    },
    async fail(id, owner, error, delaySeconds, maxAttempts = 3) {
      const r = await db.query<{ s: string | null }>('SELECT fail_task($1, $2, $3, $4, $5) AS s', [id, owner, error, delaySeconds ?? null, maxAttempts]);
      return r.rows[0]?.s ?? null;
    },
    async recover() {
      return (await db.query<{ id: string; status: string }>('SELECT id, status FROM recover_stale_tasks(3, 500, true)')).rows;
    },
  };
}

function tsProtocol(db: Db): Protocol {
  return {
    async claim(owner, limit, o = {}) {
      const opts = { owner, limit, types: o.types ?? TYPES, queues: o.queues ?? ['default'], leaseSeconds: o.lease ?? 30, agingSeconds: o.aging ?? 0 };
      const limited = await limitedQueues(db, opts.queues);
      const rows = limited.length > 0 ? await claimWithLimits(db, opts, limited) : await claimTasks(db, { ...opts, limitsLocked: false });
      return rows.map((r) => ({ id: r.id, type: r.type, attempts: r.attempts }));
    },
    async renew(owner, ids, lease) {
      const missing = new Set(
        (
          await renewLeases(
            db,
            ids.map((id) => ({ id, owner })),
            lease,
          )
        ).map((m) => m.id),
      );
      return ids.filter((id) => !missing.has(id));
    },
    async complete(id, owner, result) {
      return db.transaction(async (tx) => {
        const ids = await completeAny(tx, [{ id, owner, result: JSON.stringify(result) }]);
        if (ids.length > 0) await promoteDependents(tx, ids);
        return ids.length > 0;
      });
    },
    async fail(id, owner, error, delaySeconds, maxAttempts = 3) {
      const a = (await db.query<{ attempts: number }>('SELECT attempts FROM tasks WHERE id = $1', [id])).rows[0]?.attempts ?? 0;
      const delayMs = delaySeconds !== undefined ? delaySeconds * 1000 : backoffDelay(a);
      return db.transaction(async (tx) => {
        const rows = await failTasks(tx, [{ id, owner, error, delayMs, maxAttempts }]);
        const failed = rows.filter((r) => r.status === 'failed').map((r) => r.id);
        if (failed.length > 0) await cancelDependents(tx, failed);
        return rows[0]?.status ?? null;
      });
    },
    async recover() {
      return db.transaction(async (tx) => {
        const rows = await recoverStale(tx, { deadOwners: true, maxAttempts: 3, backoffBaseMs: 1000, backoffCapMs: 300_000, limit: 500 });
        const failed = rows.filter((r) => r.status === 'failed').map((r) => r.id);
        if (failed.length > 0) await cancelDependents(tx, failed);
        return rows;
      });
    },
  };
}

const IMPLS: [string, (db: Db) => Protocol][] = [
  ['SQL functions', sqlProtocol],
  ['TypeScript statements', tsProtocol],
];

async function insert(db: Db, rows: Record<string, unknown>[]): Promise<string[]> {
  const ids: string[] = [];
  for (const r of rows) {
    const cols = Object.keys(r);
    const res = await db.query<{ id: string }>(
      `INSERT INTO tasks (${cols.join(', ')}) VALUES (${cols.map((c, i) => `$${i + 1}${c === 'status' ? '::taskstatus' : c === 'priority' ? '::taskpriority' : ''}`).join(', ')}) RETURNING id`,
      cols.map((c) => r[c]),
    );
    ids.push((res.rows[0] as { id: string }).id);
  }
  return ids;
}

async function row(db: Db, id: string): Promise<{ status: string; attempts: number; error: string | null; owner_id: string | null; delay: number | null }> {
  const r = await db.query<{ status: string; attempts: number; error: string | null; owner_id: string | null; delay: number | null }>(
    'SELECT status::text AS status, attempts, error, owner_id, extract(epoch FROM run_after - now())::float8 AS delay FROM tasks WHERE id = $1',
    [id],
  );
  return r.rows[0] as { status: string; attempts: number; error: string | null; owner_id: string | null; delay: number | null };
}

for (const kind of BACKENDS) {
  for (const [implName, make] of IMPLS) {
    describe(`worker protocol (${implName}) on ${kind}`, () => {
      let t: TestDb;
      let p: Protocol;
      before(async () => {
        t = await freshDb(kind);
        p = make(t.db);
      });
      after(async () => t.cleanup());
      beforeEach(async () => t.db.exec('DELETE FROM tasks; DELETE FROM queue_limits; DELETE FROM registry_instance;'));

      it('claims by priority, then due time; aging lifts a long-waiting low task; attempts + 1', async () => {
        const [low, crit, normalOld, normalNew] = await insert(t.db, [
          { type: 't', status: 'queued', priority: 'low', created_at: new Date(Date.now() - 3_600_000) },
          { type: 't', status: 'queued', priority: 'critical' },
          { type: 't', status: 'queued', priority: 'normal', created_at: new Date(Date.now() - 60_000) },
          { type: 't', status: 'queued', priority: 'normal' },
        ]);
        const order: string[] = [];
        for (let i = 0; i < 4; i++) {
          const got = await p.claim('w1', 1);
          assert.equal(got.length, 1);
          assert.equal(got[0]?.attempts, 1);
          order.push(got[0]?.id as string);
        }
        assert.deepEqual(order, [crit, normalOld, normalNew, low], 'strict priority (aging 0)');
        await t.db.exec('DELETE FROM tasks');
        const [low2, crit2] = await insert(t.db, [
          { type: 't', status: 'queued', priority: 'low', created_at: new Date(Date.now() - 3_600_000) },
          { type: 't', status: 'queued', priority: 'critical' },
        ]);
        // Due for an hour with aging 60 s: the low task competes as critical and is older.
        assert.deepEqual(
          (await p.claim('w1', 1, { aging: 60 })).map((r) => r.id),
          [low2],
        );
        assert.deepEqual(
          (await p.claim('w1', 1, { aging: 60 })).map((r) => r.id),
          [crit2],
        );
      });

      it('claims only due, unexpired tasks of the served types and queues, within queue limits', async () => {
        const [due, , , , otherType, gpu1, gpu2] = await insert(t.db, [
          { type: 't', status: 'queued' },
          { type: 't', status: 'queued', run_after: new Date(Date.now() + 3_600_000) },
          { type: 't', status: 'queued', expires_at: new Date(Date.now() - 1000) },
          { type: 't', status: 'created' },
          { type: 'v', status: 'queued' },
          { type: 't', status: 'queued', queue: 'gpu' },
          { type: 't', status: 'queued', queue: 'gpu' },
        ]);
        assert.deepEqual(
          (await p.claim('w1', 10)).map((r) => r.id),
          [due],
        );
        assert.deepEqual(
          (await p.claim('w1', 10, { types: ['v'] })).map((r) => r.id),
          [otherType],
        );
        await t.db.query("INSERT INTO queue_limits (queue, max_running) VALUES ('gpu', 1)");
        const first = await p.claim('w1', 10, { queues: ['gpu'] });
        assert.equal(first.length, 1, 'limit 1: one of the two gpu tasks');
        assert.ok([gpu1, gpu2].includes(first[0]?.id as string));
        assert.equal((await p.claim('w2', 10, { queues: ['gpu'] })).length, 0, 'the slot is taken');
        assert.equal(await p.complete(first[0]?.id as string, 'w1', {}), true);
        assert.equal((await p.claim('w2', 10, { queues: ['gpu'] })).length, 1, 'the slot is free again');
      });

      it('bounds attempts: retry with backoff, then failed at max attempts; a permanent error fails at once', async () => {
        const [id, own5, perm] = await insert(t.db, [
          { type: 't', status: 'queued' },
          { type: 'u', status: 'queued', max_attempts: 5 },
          { type: 'u', status: 'queued', priority: 'low' },
        ]);
        const delays: number[] = [];
        const statuses: (string | null)[] = [];
        for (let i = 0; i < 3; i++) {
          await t.db.query('UPDATE tasks SET run_after = NULL WHERE id = $1', [id]);
          const got = await p.claim('w1', 1, { types: ['t'] });
          assert.deepEqual(
            got.map((r) => [r.id, r.attempts]),
            [[id, i + 1]],
          );
          statuses.push(await p.fail(id as string, 'w1', `boom ${i}`));
          delays.push((await row(t.db, id as string)).delay ?? NaN);
        }
        assert.deepEqual(statuses, ['retry', 'retry', 'failed']);
        const end = await row(t.db, id as string);
        assert.equal(end.attempts, 3);
        assert.equal(end.error, 'boom 2');
        assert.equal(end.owner_id, null);
        // Backoff: ~1 s after the 1st execution, ~2 s after the 2nd (±20 % jitter, plus the
        // few ms between the write and the read).
        assert.ok((delays[0] as number) > 0.7 && (delays[0] as number) < 1.25, `first delay ${delays[0]}`);
        assert.ok((delays[1] as number) > 1.5 && (delays[1] as number) < 2.45, `second delay ${delays[1]}`);
        // The task's own max_attempts wins over the caller's default; an explicit delay is used as given.
        for (let i = 0; i < 4; i++) {
          await t.db.query('UPDATE tasks SET run_after = NULL WHERE id = $1', [own5]);
          assert.equal((await p.claim('w1', 1, { types: ['u'] }))[0]?.id, own5);
          assert.equal(await p.fail(own5 as string, 'w1', 'x', 0.25), 'retry');
        }
        const d = (await row(t.db, own5 as string)).delay as number;
        assert.ok(d > 0.1 && d < 0.3, `explicit delay ${d}`);
        await t.db.query('UPDATE tasks SET run_after = NULL WHERE id = $1', [own5]);
        assert.equal((await p.claim('w1', 1, { types: ['u'] }))[0]?.id, own5);
        assert.equal(await p.fail(own5 as string, 'w1', 'x'), 'failed');
        assert.equal((await row(t.db, own5 as string)).attempts, 5);
        assert.equal((await p.claim('w1', 1, { types: ['u'] }))[0]?.id, perm);
        assert.equal(await p.fail(perm as string, 'w1', 'bad input', undefined, 0), 'failed');
      });

      it('compare-and-set: a non-owner cannot renew, complete or fail; after recovery the old owner is refused', async () => {
        const [id] = await insert(t.db, [{ type: 't', status: 'queued' }]);
        await p.claim('w1', 1);
        assert.deepEqual(await p.renew('w2', [id as string], 30), []);
        assert.deepEqual(await p.renew('w1', [id as string], 30), [id]);
        assert.equal(await p.complete(id as string, 'w2', { by: 'w2' }), false);
        assert.equal(await p.fail(id as string, 'w2', 'by w2'), null);
        assert.equal((await row(t.db, id as string)).status, 'running');
        await t.db.query("UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [id]);
        assert.deepEqual(
          (await p.recover()).map((r) => [r.id, r.status]),
          [[id, 'retry']],
        );
        assert.match((await row(t.db, id as string)).error ?? '', /lease expired \(owner w1\)/);
        assert.equal(await p.complete(id as string, 'w1', { late: true }), false, 'the lease was taken over');
        assert.equal((await row(t.db, id as string)).delay, null, 'a recovered task keeps its due time (no backoff: it runs next)');
        const again = await p.claim('w3', 1);
        assert.deepEqual(
          again.map((r) => [r.id, r.attempts]),
          [[id, 2]],
          'the recovered attempt was not counted twice',
        );
        assert.equal(await p.complete(id as string, 'w3', { ok: 1 }), true);
        const res = await t.db.query<{ result: unknown; status: string }>('SELECT result, status::text AS status FROM tasks WHERE id = $1', [id]);
        assert.deepEqual(res.rows[0], { result: { ok: 1 }, status: 'completed' });
      });

      it('releases a dependent when its last dependency completes, and cancels dependents transitively at a final failure', async () => {
        const [a, b, parent, c, child, grandchild] = await insert(t.db, [
          { type: 't', status: 'queued' },
          { type: 't', status: 'queued' },
          { type: 'u', status: 'created' },
          { type: 't', status: 'queued', max_attempts: 1 },
          { type: 'u', status: 'created' },
          { type: 'u', status: 'created' },
        ]);
        await t.db.query('INSERT INTO task_depends_on_task (src_task_id, dst_task_id) VALUES ($1, $2), ($1, $3), ($4, $5), ($6, $4)', [
          parent,
          a,
          b,
          child,
          c,
          grandchild,
        ]);
        const got = await p.claim('w1', 10, { types: ['t'] });
        assert.equal(got.length, 3);
        assert.equal(await p.complete(a as string, 'w1', {}), true);
        assert.equal((await row(t.db, parent as string)).status, 'created', 'one dependency still open');
        assert.equal(await p.complete(b as string, 'w1', {}), true);
        assert.equal((await row(t.db, parent as string)).status, 'queued');
        assert.equal(await p.fail(c as string, 'w1', 'no'), 'failed');
        assert.equal((await row(t.db, child as string)).status, 'cancelled');
        assert.equal((await row(t.db, grandchild as string)).status, 'cancelled');
        assert.match((await row(t.db, grandchild as string)).error ?? '', new RegExp(`dependency ${c} ended failed`));
      });

      it('recovers the tasks of a dead registry instance', async () => {
        const inst = '00000000-0000-4000-8000-00000000000a';
        await t.db.query('INSERT INTO cluster_metadata (id, current_epoch) VALUES (1, gen_random_uuid()) ON CONFLICT (id) DO NOTHING');
        await t.db.query(
          "SELECT register_instance($1::uuid, 'w', (SELECT current_epoch FROM cluster_metadata WHERE id = 1), 'w', NULL, 'host', '127.0.0.1', 1)",
          [inst],
        );
        await t.db.query("SELECT set_instance_status($1::uuid, 'alive')", [inst]);
        const [id] = await insert(t.db, [{ type: 't', status: 'queued' }]);
        assert.equal((await p.claim(inst, 1)).length, 1);
        assert.deepEqual(await p.recover(), [], 'alive owner, lease valid: nothing to recover');
        await t.db.query("SELECT set_instance_status($1::uuid, 'dead')", [inst]);
        assert.deepEqual(
          (await p.recover()).map((r) => [r.id, r.status]),
          [[id, 'retry']],
        );
        assert.match((await row(t.db, id as string)).error ?? '', /owner instance dead/);
      });
    });
  }

  describe(`worker protocol, SQL only, on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => t.cleanup());
    beforeEach(async () => t.db.exec('DELETE FROM tasks; DELETE FROM registry_instance;'));

    it('p_types NULL claims any type; bad arguments raise and write nothing', async () => {
      await insert(t.db, [
        { type: 'x', status: 'queued' },
        { type: 'y', status: 'queued' },
      ]);
      await assert.rejects(t.db.query("SELECT * FROM claim_tasks('', 5)"), /p_owner must be a non-empty text/);
      await assert.rejects(t.db.query("SELECT * FROM claim_tasks('w', 5, 0)"), /p_lease_seconds must be > 0/);
      assert.equal((await t.db.query("SELECT 1 FROM tasks WHERE status = 'queued'")).rowCount, 2);
      const r = await t.db.query<{ type: string }>("SELECT type FROM claim_tasks('w', 5) ORDER BY type");
      assert.deepEqual(
        r.rows.map((x) => x.type),
        ['x', 'y'],
      );
    });

    it('complete_tasks completes a batch (compare-and-set per row, dependents released); release_task gives the attempt back', async () => {
      const [a, b, c, dep] = await insert(t.db, [
        { type: 'x', status: 'queued' },
        { type: 'x', status: 'queued' },
        { type: 'x', status: 'queued' },
        { type: 'y', status: 'created' },
      ]);
      await t.db.query('INSERT INTO task_depends_on_task (src_task_id, dst_task_id) VALUES ($1, $2)', [dep, a]);
      const claimed = await t.db.query<{ id: string }>("SELECT id FROM claim_tasks('w', 3, 30, ARRAY['x'])");
      assert.equal(claimed.rowCount, 3);
      await t.db.query("UPDATE tasks SET owner_id = 'other' WHERE id = $1", [b]);
      const written = await t.db.query<{ id: string }>("SELECT id FROM complete_tasks('w', $1::jsonb) AS id ORDER BY id", [
        JSON.stringify({ [a as string]: { n: 1 }, [b as string]: { n: 2 } }),
      ]);
      assert.deepEqual(
        written.rows.map((r) => r.id),
        [a],
        'b is no longer ours',
      );
      const rows = await t.db.query<{ id: string; status: string; result: unknown; attempts: number }>(
        'SELECT id, status::text AS status, result, attempts FROM tasks WHERE id = ANY($1::uuid[])',
        [[a, b, c, dep]],
      );
      const by = new Map(rows.rows.map((r) => [r.id, r]));
      assert.deepEqual([by.get(a as string)?.status, by.get(a as string)?.result], ['completed', { n: 1 }]);
      assert.equal(by.get(b as string)?.status, 'running');
      assert.equal(by.get(dep as string)?.status, 'queued', 'the dependent was released in the same call');
      assert.equal((await t.db.query<{ ok: boolean }>("SELECT release_task($1, 'other') AS ok", [c])).rows[0]?.ok, false);
      assert.equal((await t.db.query<{ ok: boolean }>("SELECT release_task($1, 'w') AS ok", [c])).rows[0]?.ok, true);
      assert.deepEqual([by.get(c as string)?.attempts, (await row(t.db, c as string)).attempts, (await row(t.db, c as string)).status], [1, 0, 'queued']);
    });

    it('expire_tasks cancels waiting tasks whose window closed, and their dependents; others are left', async () => {
      const [gone, dep, open, running] = await insert(t.db, [
        { type: 'x', status: 'queued', expires_at: new Date(Date.now() - 1000) },
        { type: 'x', status: 'created' },
        { type: 'x', status: 'queued', expires_at: new Date(Date.now() + 3_600_000) },
        { type: 'x', status: 'running', expires_at: new Date(Date.now() - 1000) },
      ]);
      await t.db.query('INSERT INTO task_depends_on_task (src_task_id, dst_task_id) VALUES ($1, $2)', [dep, gone]);
      const r = await t.db.query<{ id: string }>('SELECT id FROM expire_tasks(500) AS id');
      assert.deepEqual(
        r.rows.map((x) => x.id),
        [gone],
      );
      const st = await t.db.query<{ id: string; status: string; error: string | null }>(
        'SELECT id, status::text AS status, error FROM tasks WHERE id = ANY($1::uuid[])',
        [[gone, dep, open, running]],
      );
      const by = new Map(st.rows.map((x) => [x.id, x]));
      assert.deepEqual([by.get(gone as string)?.status, by.get(gone as string)?.error], ['cancelled', 'expired']);
      assert.equal(by.get(dep as string)?.status, 'cancelled');
      assert.equal(by.get(open as string)?.status, 'queued');
      assert.equal(by.get(running as string)?.status, 'running', 'a started task is not expired');
    });

    it('a registry instance that is dead claims nothing (an alive one does)', async () => {
      await t.db.query('INSERT INTO cluster_metadata (id, current_epoch) VALUES (1, gen_random_uuid()) ON CONFLICT (id) DO NOTHING');
      const alive = '00000000-0000-4000-8000-000000000001';
      const dead = '00000000-0000-4000-8000-000000000002';
      for (const id of [alive, dead]) {
        await t.db.query(
          "SELECT register_instance($1::uuid, 'w', (SELECT current_epoch FROM cluster_metadata WHERE id = 1), 'w', NULL, 'host', '127.0.0.1', 1)",
          [id],
        );
        await t.db.query("SELECT set_instance_status($1::uuid, 'alive')", [id]);
      }
      await t.db.query("SELECT set_instance_status($1::uuid, 'dead')", [dead]);
      await insert(t.db, [
        { type: 'x', status: 'queued' },
        { type: 'x', status: 'queued' },
      ]);
      assert.equal((await t.db.query('SELECT * FROM claim_tasks($1, 1)', [dead])).rowCount, 0);
      assert.equal((await t.db.query('SELECT * FROM claim_tasks($1, 1)', [alive])).rowCount, 1);
    });

    it("the dispatcher's claim takes rows only while its registered instance is alive; an instance without a row claims nothing", async () => {
      await t.db.query('INSERT INTO cluster_metadata (id, current_epoch) VALUES (1, gen_random_uuid()) ON CONFLICT (id) DO NOTHING');
      const alive = '00000000-0000-4000-8000-000000000011';
      await t.db.query(
        "SELECT register_instance($1::uuid, 'w', (SELECT current_epoch FROM cluster_metadata WHERE id = 1), 'w', NULL, 'host', '127.0.0.1', 1)",
        [alive],
      );
      await t.db.query("SELECT set_instance_status($1::uuid, 'alive')", [alive]);
      await insert(t.db, [{ type: 'x', status: 'queued' }]);
      const o = { limit: 1, types: ['x'], queues: ['default'], leaseSeconds: 30, agingSeconds: 0, limitsLocked: false };
      // claim_tasks() lets an owner that is no registry instance claim; the dispatcher's fence does not.
      const missing = '00000000-0000-4000-8000-0000000000ff';
      assert.deepEqual(await claimTasks(t.db, { ...o, owner: missing, aliveInstance: missing }), []);
      assert.equal((await claimTasks(t.db, { ...o, owner: alive, aliveInstance: alive })).length, 1);
    });

    it("the original's embedding upsert (:vec)::jsonb::vector succeeds and updates on conflict", async () => {
      const task = (await t.db.query<{ id: string }>("INSERT INTO tasks (type) VALUES ('graph_embed') RETURNING id")).rows[0]?.id;
      const nid = (await t.db.query<{ n: string }>('SELECT ensure_task_node($1)::text AS n', [task])).rows[0]?.n;
      // The statement as the original's upsert_embeddings sends it (SQLAlchemy binds :vec as the
      // JSON text of a list and :props as JSON text).
      const upsert = `INSERT INTO graph_embeddings (node_id, emb, label, props)
                      VALUES ($1, ($2)::jsonb::vector, $3, ($4)::jsonb)
                      ON CONFLICT (node_id) DO UPDATE
                        SET emb = EXCLUDED.emb,
                            label = COALESCE(EXCLUDED.label, graph_embeddings.label),
                            props = COALESCE(EXCLUDED.props, graph_embeddings.props),
                            updated_at = now()`;
      const vec = Array.from({ length: 128 }, (_, i) => i / 1000);
      await t.db.query(upsert, [nid, JSON.stringify(vec), 'task', '{}']);
      await t.db.query(upsert, [nid, JSON.stringify(vec.map((x) => x * 2)), null, '{"k":1}']);
      const r = await t.db.query<{ n: number; first: number; label: string; props: unknown }>(
        'SELECT count(*)::int AS n, min((emb::real[])[2])::float8 AS first, min(label) AS label, (array_agg(props))[1] AS props FROM graph_embeddings WHERE node_id = $1',
        [nid],
      );
      assert.equal(r.rows[0]?.n, 1);
      assert.ok(Math.abs((r.rows[0]?.first as number) - 0.002) < 1e-6);
      assert.equal(r.rows[0]?.label, 'task');
      assert.deepEqual(r.rows[0]?.props, { k: 1 });
      await assert.rejects(t.db.query(upsert, [nid, JSON.stringify([1, 2]), null, '{}']), /expected 128 dimensions/);
    });
  });
}

if (BACKENDS.includes('postgres')) {
  describe('worker protocol under concurrency on postgres', () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb('postgres', { poolSize: 12 });
    });
    after(async () => t.cleanup());

    it('8 concurrent claimers (SKIP LOCKED) claim each of 400 tasks exactly once; a queue limit of 3 is never exceeded', async () => {
      await t.db.query("INSERT INTO tasks (type, status) SELECT 't', 'queued' FROM generate_series(1, 400)");
      const seen = new Map<string, string>();
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (;;) {
            const r = await t.db.query<{ id: string }>('SELECT id FROM claim_tasks($1, 7, 30, NULL)', [`w${w}`]);
            if (r.rows.length === 0) break;
            for (const { id } of r.rows) {
              assert.equal(seen.has(id), false, `task ${id} claimed by ${seen.get(id)} and w${w}`);
              seen.set(id, `w${w}`);
              await t.db.query('SELECT complete_task($1, $2, $3)', [id, `w${w}`, '{}']);
            }
          }
        }),
      );
      assert.equal(seen.size, 400);
      const attempts = await t.db.query<{ a: number; n: number }>('SELECT attempts AS a, count(*)::int AS n FROM tasks GROUP BY attempts');
      assert.deepEqual(attempts.rows, [{ a: 1, n: 400 }]);

      await t.db.query("INSERT INTO queue_limits (queue, max_running) VALUES ('lim', 3)");
      await t.db.query("INSERT INTO tasks (type, status, queue) SELECT 't', 'queued', 'lim' FROM generate_series(1, 60)");
      let maxRunning = 0;
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (;;) {
            const r = await t.db.query<{ id: string }>("SELECT id FROM claim_tasks($1, 5, 30, NULL, ARRAY['lim'])", [`l${w}`]);
            const left = await t.db.query<{ q: number; r: number }>(
              "SELECT count(*) FILTER (WHERE status IN ('queued','retry'))::int AS q, count(*) FILTER (WHERE status = 'running')::int AS r FROM tasks WHERE queue = 'lim'",
            );
            maxRunning = Math.max(maxRunning, left.rows[0]?.r ?? 0);
            if (r.rows.length === 0 && left.rows[0]?.q === 0) break;
            for (const { id } of r.rows) await t.db.query('SELECT complete_task($1, $2, $3)', [id, `l${w}`, '{}']);
            if (r.rows.length === 0) await new Promise((res) => setImmediate(res));
          }
        }),
      );
      assert.ok(maxRunning <= 3 && maxRunning >= 1, `running in the limited queue peaked at ${maxRunning}`);
      assert.equal((await t.db.query("SELECT 1 FROM tasks WHERE queue = 'lim' AND status = 'completed'")).rowCount, 60);
    });
  });
}
