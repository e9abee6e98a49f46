/**
 * Capability and organ routing in the claim statement (migration 021): organ workers take only
 * what they can serve, workers that are no organ take only unrouted work (and bound work whose
 * organ is not live), unroutable work is reported and runs once a provider appears, and the
 * claim stays index-served.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../src/db/types.js';
import { isSeedCoreError } from '../src/errors.js';
import { listCapabilities, unroutableReport } from '../src/agents/routing.js';
import { claimTasks } from '../src/tasks/claim.js';
import type { Dispatcher } from '../src/tasks/dispatcher.js';
import type { OrganOptions } from '../src/tasks/dispatcher-options.js';
import { createMetrics } from '../src/server/metrics.js';
import { submitTasks } from '../src/tasks/submit.js';
import type { HandlerMap } from '../src/tasks/types.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { testServer, type TestServer } from './helpers/server.js';
import { startDispatcher, waitFor } from './helpers/tasks.js';

/** Register an organ as the worker composition does: its row, capability edges with versions, an alive registry instance. */
export async function registerOrganRows(db: Db, organ: OrganOptions): Promise<string> {
  const instance = randomUUID();
  await db.query('INSERT INTO cluster_metadata (id, current_epoch) VALUES (1, gen_random_uuid()) ON CONFLICT (id) DO NOTHING');
  // A wide liveness window: on a loaded machine a beat may be late, and an organ that drops out
  // of liveness hands its bound tasks to any worker (which the checks below would count as wrong).
  await db.query('UPDATE cluster_metadata SET liveness_seconds = 600 WHERE id = 1');
  await db.query('INSERT INTO organ_registry (organ_id) VALUES ($1) ON CONFLICT DO NOTHING', [organ.id]);
  for (const c of organ.capabilities ?? []) {
    await db.query('INSERT INTO capability (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [c.name]);
    await db.query(
      `INSERT INTO organ_provides_capability (organ_id, capability_id, version)
       SELECT $1, capability_id, $3 FROM capability WHERE name = $2
       ON CONFLICT (organ_id, capability_id) DO UPDATE SET version = EXCLUDED.version`,
      [organ.id, c.name, c.version],
    );
  }
  await db.query("SELECT register_instance($1::uuid, $2, (SELECT current_epoch FROM cluster_metadata WHERE id = 1), $2, NULL, 'test-host', '127.0.0.1', 1)", [
    instance,
    organ.id,
  ]);
  await db.query("SELECT set_instance_status($1::uuid, 'alive')", [instance]);
  return instance;
}

/** Keep registry instances fresh (the liveness window is judged by the database clock). */
function beating(db: Db, instances: () => string[]): () => void {
  const timer = setInterval(() => {
    for (const i of instances()) void db.query('SELECT beat($1::uuid)', [i]).catch(() => undefined);
  }, 1000);
  return () => clearInterval(timer);
}

const versionKey = (v: string): number[] => {
  const parts = v.split('.').map(Number);
  while (parts.length > 1 && parts[parts.length - 1] === 0) parts.pop();
  return parts;
};
const atLeast = (have: string, min: string): boolean => {
  const a = versionKey(have);
  const b = versionKey(min);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? -1;
    const y = b[i] ?? -1;
    if (x !== y) return x > y;
  }
  return true;
};
/** Whether an organ (or a plain worker: null) may run a task with these routing columns; liveOrgans: bound organs that are live. */
function eligible(organ: OrganOptions | null, requires: string[] | null, routeOrgan: string | null, liveOrgans: Set<string>): boolean {
  if (routeOrgan !== null && liveOrgans.has(routeOrgan) && organ?.id !== routeOrgan) return false;
  return (requires ?? []).every((c) => {
    const [name, min] = c.split('>=') as [string, string | undefined];
    const have = organ?.capabilities?.find((x) => x.name === name);
    return have !== undefined && (min === undefined || atLeast(have.version, min));
  });
}

const ORGANS: OrganOptions[] = [
  {
    id: 'organ-a',
    capabilities: [
      { name: 'summarize', version: '2.1' },
      { name: 'embed', version: '1' },
    ],
  },
  {
    id: 'organ-b',
    capabilities: [
      { name: 'summarize', version: '1.5' },
      { name: 'translate', version: '3.0' },
    ],
  },
  { id: 'organ-c', capabilities: [{ name: 'embed', version: '2.1.0' }] },
];

/** The kinds of the 300 mixed tasks: requires and organ binding. */
const MIX: { requires?: unknown[]; organId?: string }[] = [
  { requires: ['summarize>=2'] },
  { requires: ['summarize'] },
  { requires: [{ capability: 'embed', minVersion: '2' }] },
  { requires: ['embed'] },
  { requires: ['translate>=3'] },
  { requires: ['summarize>=1', 'embed'] },
  { organId: 'organ-c' },
  { organId: 'organ-b', requires: ['translate'] },
  {},
  { organId: 'organ-gone' },
];

for (const kind of BACKENDS) {
  describe(`capability routing (${kind})`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => t.cleanup());

    it('three organs and a plain worker drain 300 mixed tasks; every task runs on an eligible worker', async () => {
      const instances: string[] = [];
      for (const o of ORGANS) instances.push(await registerOrganRows(t.db, o));
      const stopBeat = beating(t.db, () => instances);
      // Each worker's handler signs the result: completion clears owner_id, the result stays.
      const handlers = (by: string): HandlerMap => ({ mixed: async () => ({ by }) });
      const workers: Dispatcher[] = [];
      try {
        const inputs = Array.from({ length: 300 }, (_, i) => ({ type: 'mixed', params: { i }, ...(MIX[i % MIX.length] as object) }));
        const rows = await submitTasks(t.db, inputs);
        assert.equal(rows.length, 300);
        for (const o of ORGANS) workers.push(await startDispatcher(t.db, { handlers: handlers(`${o.id}:w`), organ: o, concurrency: 4 }));
        workers.push(await startDispatcher(t.db, { handlers: handlers('plain:w'), concurrency: 4 }));
        await waitFor(
          '300 tasks completed',
          async () => (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'")).rows[0]?.n === 300,
          60_000,
          50,
        );
      } finally {
        for (const w of workers) await w.stop({ graceMs: 0 });
        stopBeat();
      }
      const done = await t.db.query<{ owner_id: string; requires: string[] | null; route_organ: string | null }>(
        "SELECT result->>'by' AS owner_id, requires, route_organ FROM tasks",
      );
      const byOwner = new Map<string, OrganOptions | null>([...ORGANS.map((o) => [`${o.id}:w`, o] as const), ['plain:w', null]]);
      const live = new Set(ORGANS.map((o) => o.id));
      const bad = done.rows.filter((r) => !eligible(byOwner.get(r.owner_id) ?? null, r.requires, r.route_organ, live));
      assert.deepEqual(bad, [], 'no task ran on an ineligible worker');
      // Every worker took part, and the plain worker took the work bound to an organ that is not live.
      const owners = new Set(done.rows.map((r) => r.owner_id));
      assert.deepEqual([...owners].sort(), ['organ-a:w', 'organ-b:w', 'organ-c:w', 'plain:w']);
      assert.ok(done.rows.some((r) => r.route_organ === 'organ-gone'));
      // The edges were written with the constraints.
      const edges = await t.db.query<{ name: string; min_version: string | null; n: number }>(
        `SELECT c.name, e.min_version, count(*)::int AS n FROM task_uses_capability e JOIN capability c USING (capability_id)
          GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST`,
      );
      assert.deepEqual(
        edges.rows.map((r) => `${r.name}${r.min_version ? `>=${r.min_version}` : ''}:${r.n}`),
        ['embed:60', 'embed>=2:30', 'summarize:30', 'summarize>=1:30', 'summarize>=2:30', 'translate:30', 'translate>=3:30'],
      );
      const inGraph = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM hgnn_edges WHERE edge_type = 'task__uses__capability'");
      assert.equal(inGraph.rows[0]?.n, 240);
    });

    it('reports a task nobody can serve as unroutable, and runs it within a poll interval once a provider starts', async () => {
      const [task] = await submitTasks(t.db, [{ type: 'ocr', requires: ['ocr>=2'] }]);
      const id = (task as { id: string }).id;
      const plain = await startDispatcher(t.db, { handlers: { ocr: async () => 'read', 'plain-marker': async () => 'plain' }, ownerId: 'plain:ocr' });
      const old = await registerOrganRows(t.db, { id: 'organ-ocr-old', capabilities: [{ name: 'ocr', version: '1.9' }] });
      const oldWorker = await startDispatcher(t.db, {
        handlers: { ocr: async () => 'organ-ocr-old' },
        organ: { id: 'organ-ocr-old', capabilities: [{ name: 'ocr', version: '1.9' }] },
      });
      let newWorker: Dispatcher | undefined;
      try {
        // Positive controls: tasks submitted after it, one for each worker, are claimed and run,
        // so both workers were claiming while the ocr>=2 task waited.
        const [plainMarker, oldMarker] = await submitTasks(t.db, [{ type: 'plain-marker' }, { type: 'ocr', requires: ['ocr>=1.5'] }]);
        const markerResults = await waitFor(
          'both marker tasks completed',
          async () => {
            const r = await t.db.query<{ status: string; result: string | null }>(
              "SELECT status::text AS status, result #>> '{}' AS result FROM tasks WHERE id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], id)",
              [[(plainMarker as { id: string }).id, (oldMarker as { id: string }).id]],
            );
            return r.rows.every((x) => x.status === 'completed') ? r.rows.map((x) => x.result) : undefined;
          },
          20_000,
        );
        assert.deepEqual(markerResults, ['plain', 'organ-ocr-old']);
        const row = await t.db.query<{ status: string }>('SELECT status::text AS status FROM tasks WHERE id = $1', [id]);
        assert.equal(row.rows[0]?.status, 'queued', 'neither the plain worker nor an organ with ocr 1.9 took it');
        const report = await unroutableReport(t.db, [id]);
        assert.deepEqual(report.get(id), { missing: ['ocr>=2'] });
        const caps = await listCapabilities(t.db);
        const ocr = caps.find((c) => c.name === 'ocr');
        assert.equal(ocr?.waiting, 1);
        assert.deepEqual(
          ocr?.providers.map((p) => [p.organId, p.instanceId, p.version]),
          [['organ-ocr-old', old, '1.9']],
        );
        await registerOrganRows(t.db, { id: 'organ-ocr', capabilities: [{ name: 'ocr', version: '2' }] });
        const startedAt = Date.now();
        newWorker = await startDispatcher(t.db, {
          handlers: { ocr: async () => 'organ-ocr:w' },
          organ: { id: 'organ-ocr', capabilities: [{ name: 'ocr', version: '2' }] },
          pollIntervalMs: 1000,
          listen: false,
        });
        await waitFor(
          'the ocr task completed',
          async () => (await t.db.query<{ status: string }>('SELECT status::text AS status FROM tasks WHERE id = $1', [id])).rows[0]?.status === 'completed',
          20_000,
          10,
        );
        assert.ok(Date.now() - startedAt < 1000 + 3000, `claimed within a poll interval (took ${Date.now() - startedAt} ms)`);
        const done = await t.db.query<{ owner_id: string }>("SELECT result #>> '{}' AS owner_id FROM tasks WHERE id = $1", [id]);
        assert.equal(done.rows[0]?.owner_id, 'organ-ocr:w');
        assert.equal((await unroutableReport(t.db, [id])).get(id), null, 'a finished task is not unroutable');
      } finally {
        await newWorker?.stop({ graceMs: 0 });
        await oldWorker.stop({ graceMs: 0 });
        await plain.stop({ graceMs: 0 });
      }
    });

    it('keeps organ bindings written outside the API (seed functions) and bindings to organs that are not live running on a plain worker', async () => {
      // A live registry instance named like the seed's organ: the binding is still only a label.
      const live = await registerOrganRows(t.db, { id: 'cognitive_organ_1' });
      const stopBeat = beating(t.db, () => [live]);
      const seedTask = (
        await t.db.query<{ id: string }>("SELECT create_graph_embed_task_v2(ARRAY[1]::bigint[], 1, 'seed', NULL, 'cognitive_organ_1')::text AS id")
      ).rows[0]?.id as string;
      const [offline] = await submitTasks(t.db, [{ type: 'graph_embed', organId: 'organ-offline' }]);
      const [bound] = await submitTasks(t.db, [{ type: 'graph_embed', organId: 'cognitive_organ_1' }]);
      const plain = await startDispatcher(t.db, { handlers: { graph_embed: async () => 'plain:seed' } });
      let organ: Dispatcher | undefined;
      try {
        const status = async (id: string) =>
          (await t.db.query<{ status: string }>('SELECT status::text AS status FROM tasks WHERE id = $1', [id])).rows[0]?.status;
        await waitFor(
          'the seed-bound and offline-bound tasks completed',
          async () => (await status(seedTask)) === 'completed' && (await status(offline?.id as string)) === 'completed',
          20_000,
        );
        // Positive control: a task bound through the API to a live organ waits for that organ.
        assert.equal(await status(bound?.id as string), 'queued');
        organ = await startDispatcher(t.db, { handlers: { graph_embed: async () => 'cog:w' }, organ: { id: 'cognitive_organ_1' } });
        await waitFor('the API-bound task ran on its organ', async () => (await status(bound?.id as string)) === 'completed', 20_000);
        const owners = await t.db.query<{ id: string; owner_id: string }>(
          "SELECT id::text, result #>> '{}' AS owner_id FROM tasks WHERE id = ANY($1::uuid[])",
          [[seedTask, offline?.id, bound?.id]],
        );
        const owner = new Map(owners.rows.map((r) => [r.id, r.owner_id]));
        assert.equal(owner.get(seedTask), 'plain:seed');
        assert.equal(owner.get(offline?.id as string), 'plain:seed');
        assert.equal(owner.get(bound?.id as string), 'cog:w');
        const edge = await t.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM task_executed_by_organ WHERE task_id = $1 AND organ_id = 'cognitive_organ_1'",
          [seedTask],
        );
        assert.equal(edge.rows[0]?.n, 1, 'the seed binding edge exists');
      } finally {
        await organ?.stop({ graceMs: 0 });
        await plain.stop({ graceMs: 0 });
        stopBeat();
      }
    });

    it('the CHECK on tasks.requires (capability_constraints_valid, inlined since 027) accepts and refuses the same constraints', async () => {
      const long = (n: number) => 'a'.repeat(n);
      const cases: [string[] | null, boolean][] = [
        [null, true],
        [[], false],
        [['ocr'], true],
        [['ocr>=2', 'vision>=1.4.0', 'x_y.z:w/v-u'], true],
        [[long(200)], true],
        [[long(201)], false],
        [[`${long(200)}>=1.2.3.4.5.6.7.8`, `b${long(199)}`], true],
        [['ocr', long(201)], false],
        [['a,b'], false],
        [['ocr>=1.2.3.4.5.6.7.8.9'], false],
        [['ocr>=1234567890'], false],
        [['ocr>=123456789'], true],
        [['ocr>='], false],
        [['>=1'], false],
        [['-ocr'], false],
        [['o cr'], false],
        [Array.from({ length: 32 }, (_, i) => `c${i}`), true],
        [Array.from({ length: 33 }, (_, i) => `c${i}`), false],
      ];
      for (const [requires, valid] of cases) {
        const r = await t.db.query<{ ok: boolean }>('SELECT capability_constraints_valid($1::text[]) AS ok', [requires]);
        assert.equal(r.rows[0]?.ok, valid, JSON.stringify(requires));
      }
      // The constraint itself: a direct write of a bad value is refused, a good one lands.
      await assert.rejects(t.db.query("INSERT INTO tasks (type, status, requires) VALUES ('chk', 'created', ARRAY['a,b'])"), /tasks_requires_check/);
      const ok = await t.db.query("INSERT INTO tasks (type, status, requires) VALUES ('chk', 'created', ARRAY['ocr>=2']) RETURNING id");
      assert.equal(ok.rowCount, 1);
      await t.db.query("DELETE FROM tasks WHERE type = 'chk'");
    });

    it('refuses bad constraints with SEEDCORE_INVALID_INPUT and writes nothing', async () => {
      const before1 = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks')).rows[0]?.n;
      for (const requires of [
        ['summarize>=two'],
        [''],
        ['sum marize'],
        [{ capability: '' }],
        [{ capability: 'x', minVersion: '1.' }],
        ['a', 'a>=2'],
        ['x@2'],
      ]) {
        await assert.rejects(
          submitTasks(t.db, [{ type: 'ok' }, { type: 'bad', requires }]),
          (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'),
          JSON.stringify(requires),
        );
      }
      assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks')).rows[0]?.n, before1);
      // Positive control: the same batch with a good constraint is written.
      await submitTasks(t.db, [{ type: 'ok' }, { type: 'good', requires: ['summarize>=2.0.1'] }]);
      assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks')).rows[0]?.n, (before1 as number) + 2);
      await assert.rejects(
        startDispatcher(t.db, { handlers: { x: async () => 1 }, organ: { id: 'o', capabilities: [{ name: 'x', version: 'v2' }] } }),
        (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'),
      );
    });

    it('claim_tasks routes for workers in other languages (organ edges or a capability list); the six-argument form claims as no organ', async () => {
      await t.db.query("UPDATE tasks SET status = 'cancelled' WHERE status IN ('queued', 'retry', 'created')");
      await registerOrganRows(t.db, { id: 'py-organ', capabilities: [{ name: 'vision', version: '3.2' }] });
      const [v] = await submitTasks(t.db, [{ type: 'py', requires: ['vision>=3'] }]);
      const [u] = await submitTasks(t.db, [{ type: 'py' }]);
      const plain = await t.db.query<{ id: string }>("SELECT id::text FROM claim_tasks('py-plain', 10, 30, ARRAY['py'])");
      assert.deepEqual(
        plain.rows.map((r) => r.id),
        [u?.id],
      );
      const low = await t.db.query<{ id: string }>(
        "SELECT id::text FROM claim_tasks('py-low', 10, 30, ARRAY['py'], ARRAY['default'], 300, 'other', ARRAY['vision@2.9'])",
      );
      assert.deepEqual(low.rows, []);
      const organ = await t.db.query<{ id: string }>("SELECT id::text FROM claim_tasks('py-organ', 10, 30, ARRAY['py'], ARRAY['default'], 300, 'py-organ')");
      assert.deepEqual(
        organ.rows.map((r) => r.id),
        [v?.id],
      );
    });

    it('serves the plain claim from idx_tasks_claim and an organ claim also from idx_tasks_claim_routed', async () => {
      await t.db.exec(`
        INSERT INTO tasks (type, status, requires, route_organ, created_at)
        SELECT 'plan', (CASE WHEN g % 10 = 0 THEN 'queued' ELSE 'completed' END)::taskstatus,
               CASE WHEN g % 3 = 0 THEN ARRAY['cap' || (g % 7)] END,
               CASE WHEN g % 3 = 1 AND g % 2 = 0 THEN 'organ-' || (g % 5) END,
               now() - make_interval(secs => g)
          FROM generate_series(1, 20000) AS g;
        ANALYZE tasks;`);
      // The claim runs inside claim_tasks_core() (migration 027), whose plan EXPLAIN does not
      // show; the backend's scan counters for this transaction do (read before and after the
      // claim: PGlite may still hold counts of earlier transactions): the indexes the claim
      // read, and whether it read tasks sequentially. A sequential count afterwards is the
      // counters' positive control.
      const scans = async (organ: { id: string; capabilities: { name: string; version: string }[] } | null) =>
        t.db.transaction(async (tx) => {
          const count = async () => {
            const r = await tx.query<{ name: string; n: number }>(
              `SELECT c.relname AS name, pg_stat_get_xact_numscans(c.oid)::int AS n
                 FROM pg_class c
                WHERE c.oid = 'tasks'::regclass OR c.oid IN (SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = 'tasks'::regclass)`,
            );
            return new Map(r.rows.map((x) => [x.name, x.n]));
          };
          const before = await count();
          const got = await claimTasks(tx, {
            owner: 'plan-owner',
            limit: 16,
            types: ['plan'],
            queues: ['default'],
            leaseSeconds: 30,
            agingSeconds: 300,
            limitsLocked: false,
            organ,
          });
          const afterClaim = await count();
          await tx.query('SET LOCAL enable_indexscan = off');
          await tx.query('SET LOCAL enable_bitmapscan = off');
          await tx.query("SELECT count(*) FROM tasks WHERE description = 'none'");
          const afterControl = await count();
          const delta = (m: Map<string, number>, from: Map<string, number>, name: string) => (m.get(name) ?? 0) - (from.get(name) ?? 0);
          return {
            claimed: got.length,
            indexes: [...afterClaim.keys()].filter((k) => k !== 'tasks' && delta(afterClaim, before, k) > 0).sort(),
            seq: delta(afterClaim, before, 'tasks'),
            seqControl: delta(afterControl, afterClaim, 'tasks'),
          };
        });
      const plain = await scans(null);
      assert.ok(plain.claimed > 0, JSON.stringify(plain));
      assert.ok(plain.indexes.includes('idx_tasks_claim'), JSON.stringify(plain));
      assert.equal(plain.seq, 0, JSON.stringify(plain));
      assert.ok(plain.seqControl > 0, JSON.stringify(plain));
      const organ = await scans({
        id: 'organ-1',
        capabilities: [
          { name: 'cap1', version: '1' },
          { name: 'cap2', version: '2' },
        ],
      });
      assert.ok(organ.claimed > 0, JSON.stringify(organ));
      assert.ok(organ.indexes.includes('idx_tasks_claim'), JSON.stringify(organ));
      assert.ok(organ.indexes.includes('idx_tasks_claim_routed'), JSON.stringify(organ));
      assert.equal(organ.seq, 0, JSON.stringify(organ));
      assert.ok(organ.seqControl > 0, JSON.stringify(organ));
    });
  });
}

for (const kind of BACKENDS) {
  describe(`unroutable work and capability discovery over HTTP, metrics and the CLI (${kind})`, () => {
    let s: TestServer;
    before(async () => {
      s = await testServer(kind);
    });
    after(async () => s.close());

    it('shows unroutable in task lists and gets, counts it in /metrics and lists capabilities with providers', async () => {
      const posted = await s.app.inject({ method: 'POST', url: '/api/tasks', payload: { type: 'ocr', requires: [{ capability: 'ocr', minVersion: '2' }] } });
      assert.equal(posted.statusCode, 201, posted.body);
      const id = posted.json().id as string;
      assert.deepEqual(posted.json().requires, ['ocr>=2']);
      const plainTask = (await s.app.inject({ method: 'POST', url: '/api/tasks', payload: { type: 'plain' } })).json().id as string;
      const listed = (await s.app.inject({ url: '/api/tasks?limit=10' })).json().items as { id: string; unroutable: unknown }[];
      assert.deepEqual(listed.find((x) => x.id === id)?.unroutable, { missing: ['ocr>=2'] });
      assert.equal(listed.find((x) => x.id === plainTask)?.unroutable, null, 'positive control: an unrouted task is not unroutable');
      assert.deepEqual((await s.app.inject({ url: `/api/tasks/${id}` })).json().unroutable, { missing: ['ocr>=2'] });
      const metrics = (await s.app.inject({ url: '/metrics' })).body;
      assert.match(metrics, /seedcore_tasks_unroutable\{capability="ocr"\} 1/);
      // The dashboard's filter is the same condition (UNROUTABLE_SQL): the task is listed, the plain one is not.
      const filtered = async (): Promise<string[]> =>
        ((await s.app.inject({ url: '/api/overview/tasks?unroutable=true&limit=100' })).json().items as { id: string }[]).map((x) => x.id);
      assert.deepEqual(await filtered(), [id]);
      let caps = (await s.app.inject({ url: '/api/capabilities' })).json();
      assert.deepEqual(caps, { items: [{ name: 'ocr', providers: [], waiting: 1 }], nextCursor: null });

      const instance = await registerOrganRows(s.core.db, { id: 'organ-ocr', capabilities: [{ name: 'ocr', version: '2.0' }] });
      caps = (await s.app.inject({ url: '/api/capabilities' })).json();
      assert.deepEqual(caps.items, [{ name: 'ocr', providers: [{ organId: 'organ-ocr', instanceId: instance, version: '2.0', inFlight: 0 }], waiting: 1 }]);
      assert.equal((await s.app.inject({ url: `/api/tasks/${id}` })).json().unroutable, null, 'a live provider makes it routable');
      // The server's gauge is a snapshot reused for scrapes within the max-age (5 s by default);
      // a registry with max-age 0 queries on every scrape and sees the provider.
      assert.doesNotMatch(await createMetrics(s.core.db, { maxAgeMs: 0 }).registry.metrics(), /seedcore_tasks_unroutable\{capability="ocr"\}/);
      assert.deepEqual(await filtered(), []);
    });

    // The CLI is another process: it needs the server database.
    if (kind === 'postgres')
      it('submits with --requires, lists --unroutable and lists capabilities from the CLI', async () => {
        const target = ['--database-url', s.t.url as string];
        const sub = await runCli([...target, '--json', 'submit', 'cli-ocr', '--requires', 'vision>=3,embed']);
        assert.equal(sub.code, 0, sub.stderr);
        const row = JSON.parse(sub.stdout) as { id: string; requires: string[] };
        assert.deepEqual(row.requires, ['embed', 'vision>=3']);
        const bad = await runCli([...target, 'submit', 'cli-ocr', '--requires', 'vision>=three']);
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /dotted-number version/);
        const un = await runCli([...target, '--json', 'tasks', 'list', '--unroutable']);
        assert.equal(un.code, 0, un.stderr);
        const items = (JSON.parse(un.stdout) as { items: { id: string; unroutable: { missing: string[] } }[] }).items;
        assert.deepEqual(items.find((x) => x.id === row.id)?.unroutable, { missing: ['embed', 'vision>=3'] });
        const text = await runCli([...target, 'tasks', 'list', '--unroutable']);
        assert.match(text.stdout, /missing: embed, vision>=3/);
        const caps = await runCli([...target, '--json', 'capabilities', 'list']);
        assert.equal(caps.code, 0, caps.stderr);
        const names = (JSON.parse(caps.stdout) as { items: { name: string; waiting: number }[] }).items.map((c) => `${c.name}:${c.waiting}`);
        assert.ok(names.includes('vision:1') && names.includes('embed:1'), names.join(' '));
      });
  });
}
