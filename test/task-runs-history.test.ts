/**
 * The run history written by the statement trigger on tasks (task_runs, one row per ended
 * execution), on both backends, through plain SQL as any client writes it: statements of any
 * size on one connection (the first statement that ends a run has one row, a later one 300),
 * every outcome in one statement with the error the execution added, statements in which no
 * row stops running, `seedcore.task_runs = off`, the plan of the insert for large
 * statements (never a nested loop), and the deletion of deleted tasks' runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

interface RunRow {
  task_id: string;
  type: string;
  attempt: number;
  owner_id: string | null;
  started_at: Date;
  outcome: string;
  error: string | null;
  duration_seconds: number;
}

const STARTED = '2026-01-02T03:04:05.000Z';

/** `n` tasks of `type` claimed by `owner` (running, first attempt, locked at STARTED). */
async function running(t: TestDb, type: string, n: number, owner = 'w1', error: string | null = null): Promise<string[]> {
  await t.db.query("INSERT INTO tasks (type, status, error) SELECT $1, 'queued', $3 FROM generate_series(1, $2::int)", [type, n, error]);
  const claimed = await t.db.query<{ id: string }>(
    `UPDATE tasks SET status = 'running', owner_id = $2, locked_by = $2, locked_at = $3::timestamptz,
            lease_expires_at = now() + interval '1 minute', attempts = attempts + 1
      WHERE type = $1 AND status = 'queued' RETURNING id::text AS id`,
    [type, owner, STARTED],
  );
  return claimed.rows.map((r) => r.id).sort();
}

async function runsOf(t: TestDb, type: string): Promise<RunRow[]> {
  const r = await t.db.query<RunRow>(
    `SELECT task_id::text AS task_id, type, attempt, owner_id, started_at, outcome, error, duration_seconds
       FROM task_runs WHERE type = $1 ORDER BY task_id`,
    [type],
  );
  return r.rows;
}

const COMPLETE = `UPDATE tasks SET status = 'completed', owner_id = NULL, locked_by = NULL, locked_at = NULL, lease_expires_at = NULL
  WHERE id = ANY ($1::uuid[]) AND status = 'running'`;

for (const kind of BACKENDS) {
  describe(`run history (${kind})`, () => {
    let t: TestDb;
    before(async () => {
      // One connection: PL/pgSQL keeps the trigger's plans per connection, made at first use.
      t = await freshDb(kind, { poolSize: 1 });
    });
    after(async () => t.cleanup());

    it('records every run of a statement of 300 rows after a statement of one row on the same connection', async () => {
      const one = await running(t, 'hist-one', 1);
      assert.equal((await t.db.query(COMPLETE, [one])).rowCount, 1);
      assert.equal((await runsOf(t, 'hist-one')).length, 1);

      const ids = await running(t, 'hist-many', 300);
      assert.equal((await t.db.query(COMPLETE, [ids])).rowCount, 300);
      const runs = await runsOf(t, 'hist-many');
      assert.deepEqual(
        runs.map((r) => r.task_id),
        ids,
      );
      for (const r of runs) {
        assert.equal(r.attempt, 1);
        assert.equal(r.owner_id, 'w1');
        assert.equal(r.started_at.toISOString(), STARTED);
        assert.equal(r.outcome, 'completed');
        assert.equal(r.error, null);
        assert.ok(r.duration_seconds > 0, 'duration from the claim to the end');
      }
    });

    for (const extra of [0, 20]) {
      it(`records each outcome of one statement of ${6 + extra} runs, with the error the execution added, and no run for a row that was not running`, async () => {
        const type = `hist-mixed-${extra}`;
        const [failed, retry, cancelled, suspended, released, completed, ...more] = await running(t, type, 6 + extra, 'w2', 'earlier');
        await t.db.query("INSERT INTO tasks (type, status) VALUES ($1, 'queued')", [type]);
        const idle = (await t.db.query<{ id: string }>("SELECT id::text AS id FROM tasks WHERE type = $1 AND status = 'queued'", [type])).rows[0]?.id;
        assert.ok(idle);
        const res = await t.db.query(
          `UPDATE tasks t SET
            status = (CASE t.id WHEN $1::uuid THEN 'failed' WHEN $2::uuid THEN 'retry' WHEN $3::uuid THEN 'cancelled'
                               WHEN $4::uuid THEN 'queued' WHEN $5::uuid THEN 'queued' WHEN $7::uuid THEN 'queued' ELSE 'completed' END)::taskstatus,
            error = CASE t.id WHEN $1::uuid THEN t.error || ' | boom' WHEN $2::uuid THEN 'again' ELSE t.error END,
            waiting_for = CASE t.id WHEN $4::uuid THEN 'sleep' END,
            owner_id = NULL, locked_at = NULL
          WHERE t.id = ANY (ARRAY[$1, $2, $3, $4, $5, $6, $7]::uuid[] || $8::uuid[])`,
          [failed, retry, cancelled, suspended, released, completed, idle, more],
        );
        assert.equal(res.rowCount, 7 + extra);
        const runs = new Map((await runsOf(t, type)).map((r) => [r.task_id, r]));
        assert.equal(runs.size, 6 + extra, 'one run per task that was running');
        assert.equal(runs.has(idle), false, 'a task that was not running ends no run');
        const seen = (id: string | undefined): [string, string | null, string | null] => {
          const r = runs.get(id as string);
          return [r?.outcome ?? 'missing', r?.error ?? null, r?.owner_id ?? null];
        };
        assert.deepEqual(seen(failed), ['failed', 'boom', 'w2'], 'the part of the error this execution appended');
        assert.deepEqual(seen(retry), ['retry', 'again', 'w2'], 'an error that does not extend the earlier one is kept whole');
        assert.deepEqual(seen(cancelled), ['cancelled', null, 'w2'], 'an unchanged error is not this execution’s');
        assert.deepEqual(seen(suspended), ['suspended', null, 'w2']);
        assert.deepEqual(seen(released), ['released', null, 'w2']);
        for (const id of [completed, ...more]) assert.deepEqual(seen(id), ['completed', null, 'w2']);
      });
    }

    it('records nothing for statements in which every row stays running, and the runs when they end', async () => {
      const ids = await running(t, 'hist-renew', 5);
      await t.db.query("UPDATE tasks SET lease_expires_at = now() + interval '5 minutes' WHERE id = ANY ($1::uuid[])", [ids]);
      await t.db.query("UPDATE tasks SET status = 'running', updated_at = now() WHERE id = ANY ($1::uuid[])", [ids]);
      assert.equal((await runsOf(t, 'hist-renew')).length, 0);
      await t.db.query(COMPLETE, [ids]);
      assert.equal((await runsOf(t, 'hist-renew')).length, 5, 'positive control: the same tasks end their runs');
    });

    it('plans the insert of a statement of more than 16 runs as a full join, never a nested loop, even when sized for one row', async () => {
      // The trigger's own statements, read from the installed function, on two tables of one
      // row each (as the transition tables of a one-row statement are): the plan PL/pgSQL
      // would keep for the connection.
      const src = (await t.db.query<{ src: string }>("SELECT prosrc AS src FROM pg_proc WHERE proname = 'tasks_durable_transitions'")).rows[0]?.src ?? '';
      const inserts = [...src.matchAll(/INSERT INTO task_runs[^;]*;/g)].map((m) =>
        m[0].replaceAll('old_rows', 'pg_temp.hist_old').replaceAll('new_rows', 'pg_temp.hist_new'),
      );
      const full = inserts.find((q) => q.includes('FULL JOIN'));
      const inner = inserts.find((q) => !q.includes('FULL JOIN'));
      assert.ok(full && inner, 'the function has both inserts');
      const plans = await t.db.transaction(async (tx) => {
        await tx.query('CREATE TEMP TABLE hist_old ON COMMIT DROP AS SELECT * FROM tasks LIMIT 0');
        await tx.query('CREATE TEMP TABLE hist_new ON COMMIT DROP AS SELECT * FROM tasks LIMIT 0');
        const id = '0190a5c4-0000-7000-8000-000000000001';
        await tx.query("INSERT INTO hist_old (id, type, status, attempts, owner_id, locked_at) VALUES ($1, 'x', 'running', 1, 'w', now())", [id]);
        await tx.query("INSERT INTO hist_new (id, type, status, attempts) VALUES ($1, 'x', 'completed', 1)", [id]);
        await tx.query('ANALYZE hist_old');
        await tx.query('ANALYZE hist_new');
        const plan = async (q: string): Promise<string> =>
          (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${q}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
        return { full: await plan(full as string), inner: await plan(inner as string) };
      });
      assert.match(plans.full, /Full Join/, plans.full);
      assert.doesNotMatch(plans.full, /Nested Loop/, plans.full);
      // Positive control: the inner join of small statements, sized for one row, is a nested loop.
      assert.match(plans.inner, /Nested Loop/, plans.inner);
    });

    it('deletes the runs of deleted tasks, in a delete of 300 tasks and after it in a delete of one, and only theirs', async () => {
      const gone = await running(t, 'hist-del', 301);
      const kept = await running(t, 'hist-keep', 3);
      await t.db.query(COMPLETE, [[...gone, ...kept]]);
      assert.equal((await runsOf(t, 'hist-del')).length, 301);
      const [one, ...many] = gone;
      assert.equal((await t.db.query('DELETE FROM tasks WHERE id = ANY ($1::uuid[])', [many])).rowCount, 300);
      assert.deepEqual(
        (await runsOf(t, 'hist-del')).map((r) => r.task_id),
        [one],
      );
      assert.equal((await t.db.query('DELETE FROM tasks WHERE id = $1', [one])).rowCount, 1);
      assert.equal((await runsOf(t, 'hist-del')).length, 0);
      assert.deepEqual(
        (await runsOf(t, 'hist-keep')).map((r) => r.task_id),
        kept,
        'the runs of other tasks stay',
      );
    });

    it('records nothing with seedcore.task_runs = off, and the runs with it on', async () => {
      const off = await running(t, 'hist-off', 4);
      await t.db.transaction(async (tx) => {
        await tx.query("SELECT set_config('seedcore.task_runs', 'off', true)");
        await tx.query(COMPLETE, [off]);
      });
      assert.equal((await t.db.query("SELECT count(*)::int AS n FROM tasks WHERE type = 'hist-off' AND status = 'completed'")).rows[0]?.n, 4);
      assert.equal((await runsOf(t, 'hist-off')).length, 0);
      const on = await running(t, 'hist-on', 4);
      await t.db.transaction(async (tx) => {
        await tx.query("SELECT set_config('seedcore.task_runs', 'on', true)");
        await tx.query(COMPLETE, [on]);
      });
      assert.equal((await runsOf(t, 'hist-on')).length, 4);
    });
  });
}
