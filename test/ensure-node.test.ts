import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Db } from '../src/db/index.js';
import { isSeedCoreError, sqlState, type SeedCoreErrorCode } from '../src/errors.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

/** The eleven typed helpers, each one call of seedcore_ensure_node (migration 029). */
interface Helper {
  type: string;
  table: string;
  param: string;
  /** How the former helpers named the entity in their messages. */
  label: string;
  /** uuid-keyed helpers need the entity row first; text-keyed ones register it. */
  create?: (db: Db, id: string) => Promise<void>;
  /** Entity table and key column of a text-keyed type. */
  registry?: [string, string];
}

const HELPERS: Helper[] = [
  { type: 'task', table: 'tasks', param: 'p_task_id', label: 'task', create: (db, id) => ins(db, "INSERT INTO tasks (id, type) VALUES ($1, 'x')", id) },
  { type: 'agent', table: 'agent_registry', param: 'p_agent_id', label: 'agent', registry: ['agent_registry', 'agent_id'] },
  { type: 'organ', table: 'organ_registry', param: 'p_organ_id', label: 'organ', registry: ['organ_registry', 'organ_id'] },
  {
    type: 'artifact',
    table: 'artifact',
    param: 'p_artifact_id',
    label: 'artifact',
    create: (db, id) => ins(db, "INSERT INTO artifact (artifact_id, uri) VALUES ($1, 'file://a')", id),
  },
  {
    type: 'capability',
    table: 'capability',
    param: 'p_capability_id',
    label: 'capability',
    create: (db, id) => ins(db, 'INSERT INTO capability (capability_id, name) VALUES ($1::uuid, $1::text)', id),
  },
  {
    type: 'memory_cell',
    table: 'memory_cell',
    param: 'p_memory_cell_id',
    label: 'memory cell',
    create: (db, id) => ins(db, "INSERT INTO memory_cell (memory_cell_id, scope, mkey) VALUES ($1::uuid, 'global', $1::text)", id),
  },
  { type: 'fact', table: 'facts', param: 'p_fact_id', label: 'fact', create: (db, id) => ins(db, "INSERT INTO facts (id, text) VALUES ($1, 'a fact')", id) },
  { type: 'model', table: 'model', param: 'p_name', label: 'model', registry: ['model', 'model_name'] },
  { type: 'policy', table: 'policy', param: 'p_name', label: 'policy', registry: ['policy', 'policy_name'] },
  { type: 'service', table: 'service', param: 'p_name', label: 'service', registry: ['service', 'service_name'] },
  { type: 'skill', table: 'skill', param: 'p_name', label: 'skill', registry: ['skill', 'skill_name'] },
];

async function ins(db: Db, sql: string, id: string): Promise<void> {
  await db.query(sql, [id]);
}

async function typed(db: Pick<Db, 'query'>, h: Helper, key: string | null): Promise<string | undefined> {
  const cast = h.create ? 'uuid' : 'text';
  return (await db.query<{ id: string }>(`SELECT ensure_${h.type}_node($1::${cast})::text AS id`, [key])).rows[0]?.id;
}

async function generic(db: Pick<Db, 'query'>, type: string | null, table: string, uuid: string | null, text: string | null): Promise<string | undefined> {
  return (await db.query<{ id: string }>('SELECT seedcore_ensure_node($1, $2, $3::uuid, $4::text)::text AS id', [type, table, uuid, text])).rows[0]?.id;
}

async function count(db: Pick<Db, 'query'>, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.query<{ n: number }>(sql, params)).rows[0]?.n);
}

/** An assert.rejects predicate: this error code and SQLSTATE, and a message matching `re`. */
function fails(code: SeedCoreErrorCode, state: string, re: RegExp) {
  return (e: unknown): boolean => {
    if (!isSeedCoreError(e, code)) assert.fail(`expected ${code}, got ${String(e)}`);
    assert.equal(sqlState(e.cause), state);
    assert.match(e.message, re);
    return true;
  };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

for (const kind of BACKENDS) {
  describe(`seedcore_ensure_node and the ensure_<type>_node helpers (migration 029) on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => t.cleanup());

    it('every typed helper: one id per key on repeat calls, distinct ids for distinct keys, the id seedcore_ensure_node gives', async () => {
      const seen = new Set<string>();
      for (const h of HELPERS) {
        const [k1, k2] = h.create ? [randomUUID(), randomUUID()] : [`${h.type}-one-${randomUUID()}`, `${h.type}-two-${randomUUID()}`];
        if (h.create) for (const k of [k1, k2]) await h.create(t.db, k);
        if (h.registry) {
          const [tbl, col] = h.registry;
          assert.equal(await count(t.db, `SELECT count(*)::int AS n FROM ${tbl} WHERE ${col} = $1`, [k1]), 0, `${h.type}: not registered yet`);
        }
        const id1 = await typed(t.db, h, k1);
        assert.ok(id1, `${h.type}: an id`);
        assert.equal(await typed(t.db, h, k1), id1, `${h.type}: the same id again`);
        const id2 = await typed(t.db, h, k2);
        assert.ok(id2);
        assert.notEqual(id2, id1, `${h.type}: another key, another id`);
        const [u, x] = h.create ? [k1, null] : [null, k1];
        assert.equal(await generic(t.db, h.type, h.table, u, x), id1, `${h.type}: seedcore_ensure_node gives the helper's id`);

        // One graph_node_map row, with the type, table and key of the entity.
        const keyCol = h.create ? 'ext_uuid::text' : 'ext_text_id';
        const row = await t.db.query<{ id: string }>(
          `SELECT node_id::text AS id FROM graph_node_map WHERE node_type = $1 AND ext_table = $2 AND ${keyCol} = $3`,
          [h.type, h.table, k1],
        );
        assert.deepEqual(
          row.rows.map((r) => r.id),
          [id1],
        );
        if (h.registry) {
          const [tbl, col] = h.registry;
          assert.equal(await count(t.db, `SELECT count(*)::int AS n FROM ${tbl} WHERE ${col} = $1`, [k1]), 1, `${h.type}: registered once`);
        }
        for (const id of [id1, id2]) {
          assert.ok(!seen.has(id), 'node ids are unique across types');
          seen.add(id);
        }
      }
      assert.equal(seen.size, 2 * HELPERS.length);
      // A new organ is registered without an agent, as before.
      const organ = (await t.db.query<{ agent_id: string | null }>("SELECT agent_id FROM organ_registry WHERE organ_id LIKE 'organ-one-%'")).rows;
      assert.deepEqual(organ, [{ agent_id: null }]);
    });

    it('the helpers raise what they raised before: NULL keys 22004, missing uuid-keyed entities 23503, with the same messages', async () => {
      for (const h of HELPERS) {
        await assert.rejects(
          typed(t.db, h, null),
          fails('SEEDCORE_INVALID_INPUT', '22004', new RegExp(`^ensure_${h.type}_node: ${h.param} must not be NULL$`)),
        );
        if (!h.create) continue;
        const missing = randomUUID();
        await assert.rejects(
          typed(t.db, h, missing),
          fails('SEEDCORE_NOT_FOUND', '23503', new RegExp(`^ensure_${h.type}_node: ${escape(h.label)} ${missing} does not exist$`)),
        );
        assert.equal(await count(t.db, 'SELECT count(*)::int AS n FROM graph_node_map WHERE ext_uuid = $1', [missing]), 0, 'nothing mapped');
        // Positive control: once the entity exists, the same call maps it.
        await h.create(t.db, missing);
        assert.ok(await typed(t.db, h, missing));
      }
      // ensure_graph_node (the edge triggers' dispatcher) reaches the same helpers.
      await assert.rejects(
        t.db.query('SELECT ensure_graph_node($1, $2)', ['memory_cell', randomUUID()]),
        fails('SEEDCORE_NOT_FOUND', '23503', /^ensure_memory_cell_node: memory cell .* does not exist$/),
      );
    });

    it('seedcore_ensure_node refuses an unknown type or table, a key of the wrong kind and NULLs, writing nothing', async () => {
      const rows = async (): Promise<number> =>
        count(t.db, 'SELECT (SELECT count(*) FROM graph_node_map) + (SELECT count(*) FROM agent_registry) + (SELECT count(*) FROM model) AS n');
      const before = await rows();
      const unknown = fails('SEEDCORE_INVALID_INPUT', '22023', /unknown node type\/table pair/);
      await assert.rejects(generic(t.db, 'robot', 'agent_registry', null, 'r1'), unknown);
      await assert.rejects(generic(t.db, 'agent', 'model', null, 'r1'), unknown);
      await assert.rejects(generic(t.db, 'task', 'task', randomUUID(), null), unknown);
      await assert.rejects(generic(t.db, 'Agent', 'agent_registry', null, 'r1'), unknown);
      await assert.rejects(
        generic(t.db, 'agent', 'agent_registry', randomUUID(), null),
        fails('SEEDCORE_INVALID_INPUT', '22023', /agent nodes are keyed by a text \(p_ext_text_id\), not a uuid/),
      );
      await assert.rejects(generic(t.db, 'model', 'model', randomUUID(), 'm1'), fails('SEEDCORE_INVALID_INPUT', '22023', /model nodes are keyed by a text/));
      await assert.rejects(
        generic(t.db, 'task', 'tasks', null, 'not-a-uuid'),
        fails('SEEDCORE_INVALID_INPUT', '22023', /task nodes are keyed by a uuid \(p_ext_uuid\)/),
      );
      await assert.rejects(generic(t.db, null, 'tasks', randomUUID(), null), fails('SEEDCORE_INVALID_INPUT', '22004', /node type and table/));
      await assert.rejects(
        generic(t.db, 'skill', 'skill', null, null),
        fails('SEEDCORE_INVALID_INPUT', '22004', /^ensure_skill_node: p_name must not be NULL$/),
      );
      assert.equal(await rows(), before, 'no row was written');

      // Positive control: the right pair and key kind map (and register) the entity.
      const id = await generic(t.db, 'agent', 'agent_registry', null, 'r1');
      assert.ok(id);
      assert.equal(await rows(), before + 2, 'one agent and one map row');
      assert.equal(await typed(t.db, HELPERS[1] as Helper, 'r1'), id);
    });

    it('the typed helpers keep signature, result, volatility and strictness; the generic one is listed', async () => {
      const r = await t.db.query<{ name: string; args: string; result: string; volatile: string; strict: boolean; definer: boolean }>(
        `SELECT p.proname AS name, pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result,
                p.provolatile::text AS volatile, p.proisstrict AS strict, p.prosecdef AS definer
           FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
            AND (p.proname LIKE 'ensure\\_%\\_node' OR p.proname = 'seedcore_ensure_node') ORDER BY 1`,
      );
      const want = [
        ...HELPERS.map((h) => ({
          name: `ensure_${h.type}_node`,
          args: `${h.param} ${h.create ? 'uuid' : 'text'}`,
          result: 'bigint',
          volatile: 'v',
          strict: false,
          definer: false,
        })),
        { name: 'ensure_graph_node', args: 'p_node_type text, p_ext_id text', result: 'bigint', volatile: 'v', strict: false, definer: false },
        {
          name: 'seedcore_ensure_node',
          args: 'p_node_type text, p_ext_table text, p_ext_uuid uuid, p_ext_text_id text',
          result: 'bigint',
          volatile: 'v',
          strict: false,
          definer: false,
        },
      ].sort((a, b) => (a.name < b.name ? -1 : 1));
      assert.deepEqual(r.rows, want);
    });
  });
}

if (BACKENDS.includes('postgres')) {
  describe('seedcore_ensure_node across two server connections', () => {
    let t: TestDb;
    let a: pg.Client;
    let b: pg.Client;
    before(async () => {
      t = await freshDb('postgres');
      a = new pg.Client({ connectionString: t.url });
      b = new pg.Client({ connectionString: t.url });
      await a.connect();
      await b.connect();
    });
    after(async () => {
      await a.end();
      await b.end();
      await t.cleanup();
    });

    /** Resolves once connection `c` waits for a lock (seen in pg_stat_activity). */
    async function waitsForLock(c: pg.Client): Promise<void> {
      const pid = (c as unknown as { processID: number }).processID;
      for (let i = 0; i < 200; i++) {
        const r = await t.db.query<{ w: string | null }>('SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1', [pid]);
        if (r.rows[0]?.w === 'Lock') return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.fail(`connection ${pid} never waited for a lock`);
    }

    const one = async (c: pg.Client, sql: string, params: unknown[]): Promise<string | undefined> => (await c.query<{ id: string }>(sql, params)).rows[0]?.id;

    for (const [what, sql, key, setup] of [
      ['a new agent (text key, registered by the call)', 'SELECT ensure_agent_node($1)::text AS id', `duo-${randomUUID()}`, undefined],
      ['an existing task (uuid key)', 'SELECT ensure_task_node($1)::text AS id', randomUUID(), "INSERT INTO tasks (id, type) VALUES ($1, 'x')"],
    ] as const) {
      it(`two connections mapping ${what} at once get one node`, async () => {
        if (setup) await t.db.query(setup, [key]);
        await a.query('BEGIN');
        const idA = await one(a, sql, [key]);
        assert.ok(idA);
        let settled = false;
        const fromB = one(b, sql, [key]).finally(() => {
          settled = true;
        });
        await waitsForLock(b);
        assert.equal(settled, false, 'the second call waits for the first transaction');
        await a.query('COMMIT');
        assert.equal(await fromB, idA, 'the second call returns the first one’s node');
        const n = await count(t.db, 'SELECT count(*)::int AS n FROM graph_node_map WHERE ext_uuid::text = $1 OR ext_text_id = $1', [key]);
        assert.equal(n, 1, 'one map row');
      });
    }

    it('when the first transaction rolls back, the waiting call maps the entity itself', async () => {
      const key = `solo-${randomUUID()}`;
      await a.query('BEGIN');
      const idA = await one(a, 'SELECT ensure_skill_node($1)::text AS id', [key]);
      const fromB = one(b, 'SELECT ensure_skill_node($1)::text AS id', [key]);
      await waitsForLock(b);
      await a.query('ROLLBACK');
      const idB = await fromB;
      assert.ok(idB);
      assert.notEqual(idB, idA, 'the rolled-back id is gone');
      const rows = await t.db.query<{ id: string }>("SELECT node_id::text AS id FROM graph_node_map WHERE node_type = 'skill' AND ext_text_id = $1", [key]);
      assert.deepEqual(
        rows.rows.map((r) => r.id),
        [idB],
      );
      assert.equal(await count(t.db, 'SELECT count(*)::int AS n FROM skill WHERE skill_name = $1', [key]), 1);
    });

    it('an entity being mapped cannot be deleted until the mapping commits (KEY SHARE), then its mapping goes with it', async () => {
      const task = randomUUID();
      await t.db.query("INSERT INTO tasks (id, type) VALUES ($1, 'x')", [task]);
      await a.query('BEGIN');
      const id = await one(a, 'SELECT ensure_task_node($1)::text AS id', [task]);
      assert.ok(id);
      let settled = false;
      const del = b.query('DELETE FROM tasks WHERE id = $1', [task]).finally(() => {
        settled = true;
      });
      await waitsForLock(b);
      assert.equal(settled, false, 'the delete waits');
      await a.query('COMMIT');
      assert.equal((await del).rowCount, 1);
      assert.equal(await count(t.db, 'SELECT count(*)::int AS n FROM graph_node_map WHERE node_id = $1::bigint', [id]), 0, 'no mapping of a deleted task');
      // Positive control: without a concurrent mapping the same delete does not wait.
      const other = randomUUID();
      await t.db.query("INSERT INTO tasks (id, type) VALUES ($1, 'x')", [other]);
      await a.query('BEGIN');
      await a.query('SELECT 1 FROM tasks WHERE id = $1', [other]);
      assert.equal((await b.query('DELETE FROM tasks WHERE id = $1', [other])).rowCount, 1);
      await a.query('COMMIT');
    });
  });
}
