import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addArtifact, getArtifact, listArtifacts } from '../src/agents/artifacts.js';
import { createTaskMemory, getMemory, listMemory, listMemoryVersions, putMemory, type MemoryCell } from '../src/agents/memory.js';
import { PGliteDb, PostgresDb, type Db } from '../src/db/index.js';
import { isSeedCoreError } from '../src/errors.js';
import { migrate } from '../src/migrate/runner.js';
import { openSeedCore } from '../src/seedcore.js';
import { buildServer } from '../src/server/app.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { inMemoryDurable } from '../src/tasks/durable/memory.js';
import type { TaskContext } from '../src/tasks/types.js';
import { runCli } from './helpers/cli.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { startDispatcher, taskRow, waitFor } from './helpers/tasks.js';

/** The edges of the graph that touch the given memory cells / artifacts, as 'edge_type' strings. */
async function edgesTo(db: Db, type: 'memory_cell' | 'artifact', ids: string[]): Promise<string[]> {
  const { rows } = await db.query<{ edge_type: string }>(
    `SELECT e.edge_type FROM hgnn_edges e JOIN graph_node_map m ON m.node_id IN (e.src_node_id, e.dst_node_id)
      WHERE m.node_type = $1 AND m.ext_uuid = ANY($2::uuid[]) ORDER BY 1`,
    [type, ids],
  );
  return rows.map((r) => r.edge_type);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

for (const kind of BACKENDS) {
  describe(`agent memory and artifacts (${kind})`, () => {
    let t: TestDb;
    let tasks: TaskCoordinator;
    before(async () => {
      t = await freshDb(kind);
      tasks = new TaskCoordinator(t.db);
    });
    after(async () => {
      await t.cleanup();
    });

    it('a put makes a new version and keeps every version; get reads the latest or a given one', async () => {
      assert.equal(await getMemory(t.db, 'agent', 'lib-k'), null);
      const v1 = await putMemory(t.db, 'agent', 'lib-k', { n: 1 });
      const v2 = await putMemory(t.db, 'agent', 'lib-k', { n: 2 }, { expectedVersion: 1 });
      const v3 = await putMemory(t.db, 'agent', 'lib-k', 'three');
      assert.deepEqual([v1.version, v2.version, v3.version], [1, 2, 3]);
      assert.notEqual(v1.id, v2.id);
      assert.deepEqual((await getMemory(t.db, 'agent', 'lib-k'))?.value, 'three');
      assert.deepEqual((await getMemory(t.db, 'agent', 'lib-k', { version: 1 }))?.value, { n: 1 });
      const page1 = await listMemoryVersions(t.db, 'agent', 'lib-k', { limit: 2 });
      assert.deepEqual(
        page1.items.map((c) => c.version),
        [3, 2],
      );
      assert.ok(page1.nextCursor);
      const page2 = await listMemoryVersions(t.db, 'agent', 'lib-k', { limit: 2, cursor: page1.nextCursor });
      assert.deepEqual(
        page2.items.map((c) => [c.version, c.value]),
        [[1, { n: 1 }]],
      );
      assert.equal(page2.nextCursor, null);
      // The rows are the seed's: one memory_cell row per version.
      const { rows } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM memory_cell WHERE scope = 'agent' AND mkey = 'lib-k'");
      assert.equal(rows[0]?.n, 3);
    });

    it('a stale or premature expectedVersion is SEEDCORE_CONFLICT and writes nothing; 0 means "must not exist"', async () => {
      await putMemory(t.db, 'agent', 'cas-k', 1, { expectedVersion: 0 });
      await assert.rejects(putMemory(t.db, 'agent', 'cas-k', 2, { expectedVersion: 0 }), (e: unknown) => {
        assert.ok(isSeedCoreError(e, 'SEEDCORE_CONFLICT'), String(e));
        assert.deepEqual(e.details, { scope: 'agent', key: 'cas-k', expectedVersion: 0, currentVersion: 1 });
        return true;
      });
      await assert.rejects(putMemory(t.db, 'agent', 'cas-k', 2, { expectedVersion: 5 }), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'));
      assert.equal((await listMemoryVersions(t.db, 'agent', 'cas-k')).items.length, 1);
      // Positive control: the right expected version writes.
      assert.equal((await putMemory(t.db, 'agent', 'cas-k', 2, { expectedVersion: 1 })).version, 2);
    });

    it('bad input is SEEDCORE_INVALID_INPUT with nothing written', async () => {
      const before = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM memory_cell')).rows[0]?.n;
      const bad: Array<() => Promise<unknown>> = [
        () => putMemory(t.db, '', 'k', 1),
        () => putMemory(t.db, 'agent', 'x'.repeat(501), 1),
        () => putMemory(t.db, 'agent', 'k', undefined),
        () => putMemory(t.db, 'agent', 'k', { s: 'a\u0000b' }),
        () => putMemory(t.db, 'agent', 'k', 1, { expectedVersion: -1 }),
        () => putMemory(t.db, 'agent', 'k', 1, { expectedVersion: 1.5 }),
        () => getMemory(t.db, 'agent', 'k', { version: 0 }),
        () => listMemoryVersions(t.db, 'agent', 'k', { cursor: 'nope' }),
        () => addArtifact(t.db, { uri: '' }),
        () => addArtifact(t.db, { uri: 'file:///x', props: [] as unknown as Record<string, unknown> }),
        () => addArtifact(t.db, { uri: 'file:///x', extra: 1 } as unknown as { uri: string }),
      ];
      for (const f of bad) await assert.rejects(f(), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      const afterCount = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM memory_cell')).rows[0]?.n;
      assert.equal(afterCount, before);
    });

    it('two concurrent writers with the same expected version: exactly one wins, one conflict (each on its own connection)', async () => {
      // On the server each writer has its own pool (its own connection); PGlite has one connection.
      const other: Db = kind === 'postgres' ? await PostgresDb.open({ databaseUrl: t.url as string, poolSize: 2 }) : t.db;
      try {
        const base = await putMemory(t.db, 'global', 'race', { round: 0 });
        let version = base.version;
        for (let round = 1; round <= 10; round++) {
          const results = await Promise.allSettled([
            putMemory(t.db, 'global', 'race', { round, by: 'a' }, { expectedVersion: version }),
            putMemory(other, 'global', 'race', { round, by: 'b' }, { expectedVersion: version }),
          ]);
          const won = results.filter((r): r is PromiseFulfilledResult<MemoryCell> => r.status === 'fulfilled');
          const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(results)}`);
          assert.equal(lost.length, 1);
          assert.ok(isSeedCoreError(lost[0]?.reason, 'SEEDCORE_CONFLICT'), String(lost[0]?.reason));
          assert.equal(won[0]?.value.version, version + 1);
          version += 1;
        }
        const versions = await listMemoryVersions(t.db, 'global', 'race', { limit: 100 });
        assert.equal(versions.items.length, 11);
        // Unconditional puts from both connections never lose a write: every one gets its own version.
        await Promise.all([
          ...Array.from({ length: 10 }, (_, i) => putMemory(t.db, 'global', 'race-free', i)),
          ...Array.from({ length: 10 }, (_, i) => putMemory(other, 'global', 'race-free', 10 + i)),
        ]);
        const free = await listMemoryVersions(t.db, 'global', 'race-free', { limit: 100 });
        assert.deepEqual(
          free.items.map((c) => c.version),
          Array.from({ length: 20 }, (_, i) => 20 - i),
        );
        assert.deepEqual(
          free.items.map((c) => c.value as number).sort((a, b) => a - b),
          Array.from({ length: 20 }, (_, i) => i),
        );
      } finally {
        if (other !== t.db) await other.close();
      }
    });

    it('handlers write memory and artifacts through ctx in a real dispatcher; the edges are in hgnn_edges', async () => {
      const gotBoth = { a: deferred(), b: deferred() };
      const handler =
        (me: 'a' | 'b', peer: 'a' | 'b') =>
        async (task: { params: Record<string, unknown> }, ctx: TaskContext): Promise<unknown> => {
          const seen = await ctx.memory.get('agent', 'plan');
          gotBoth[me].resolve();
          await gotBoth[peer].promise; // both have read the same version before either writes
          try {
            const cell = await ctx.memory.put('agent', 'plan', { by: me, from: seen?.version ?? 0 }, { expectedVersion: seen?.version ?? 0 });
            const art = await ctx.artifacts.add({ uri: `s3://bucket/${me}.json`, kind: 's3', props: { bytes: 10, param: task.params.p } });
            return { wrote: cell.version, cellId: cell.id, artifactId: art.id };
          } catch (e) {
            if (isSeedCoreError(e, 'SEEDCORE_CONFLICT')) return { conflict: e.details };
            throw e;
          }
        };
      await putMemory(t.db, 'agent', 'plan', { by: 'seed' });
      // Each task must run once: a lease lost on a loaded machine would run a handler again.
      const longLease = { leaseSeconds: 120, heartbeatSeconds: 5 };
      const other: Db = kind === 'postgres' ? await PostgresDb.open({ databaseUrl: t.url as string, poolSize: 4 }) : t.db;
      const da = await startDispatcher(t.db, { handlers: { 'mem-a': handler('a', 'b') }, ownerId: 'mem-worker-a', ...longLease });
      const db_ = await startDispatcher(other, { handlers: { 'mem-b': handler('b', 'a') }, ownerId: 'mem-worker-b', ...longLease });
      try {
        const ta = await tasks.submit({ type: 'mem-a', params: { p: 1 }, agentId: 'planner' });
        const tb = await tasks.submit({ type: 'mem-b', params: { p: 2 }, agentId: 'planner' });
        await waitFor(
          'both memory tasks to complete',
          async () => (await taskRow(t.db, ta.id)).status === 'completed' && (await taskRow(t.db, tb.id)).status === 'completed',
          60_000,
          50,
        );
        assert.deepEqual([(await taskRow(t.db, ta.id)).attempts, (await taskRow(t.db, tb.id)).attempts], [1, 1], 'each task ran once');
        const ra = (await taskRow(t.db, ta.id)).result as Record<string, unknown>;
        const rb = (await taskRow(t.db, tb.id)).result as Record<string, unknown>;
        const winner = ra.wrote !== undefined ? { r: ra, id: ta.id } : { r: rb, id: tb.id };
        const loser = ra.wrote !== undefined ? { r: rb, id: tb.id } : { r: ra, id: ta.id };
        assert.equal(winner.r.wrote, 2, JSON.stringify({ ra, rb }));
        assert.deepEqual(loser.r.conflict, { scope: 'agent', key: 'plan', expectedVersion: 1, currentVersion: 2 });
        const latest = await getMemory(t.db, 'agent', 'plan');
        assert.equal(latest?.version, 2);
        assert.equal(latest?.writtenBy, winner.id);
        assert.deepEqual(latest?.owners, ['planner']);
        // Edges: both tasks read version 1; the winner wrote version 2, which the task's agent owns; it produced an artifact.
        const v1 = (await getMemory(t.db, 'agent', 'plan', { version: 1 })) as MemoryCell;
        assert.deepEqual(await edgesTo(t.db, 'memory_cell', [v1.id]), ['task__reads__memory_cell', 'task__reads__memory_cell']);
        assert.deepEqual(await edgesTo(t.db, 'memory_cell', [latest?.id as string]), ['agent__owns__memory_cell', 'task__writes__memory_cell']);
        const artifacts = await listArtifacts(t.db, { task: winner.id });
        assert.equal(artifacts.items.length, 1);
        assert.equal(artifacts.items[0]?.id, winner.r.artifactId);
        assert.deepEqual(artifacts.items[0]?.props, { bytes: 10, param: winner.id === ta.id ? 1 : 2 });
        assert.deepEqual(artifacts.items[0]?.producedBy, [winner.id]);
        assert.deepEqual(await edgesTo(t.db, 'artifact', [winner.r.artifactId as string]), ['task__produces__artifact']);
        // The edge endpoints are the tasks' own graph nodes.
        const { rows } = await t.db.query<{ ext: string }>(
          `SELECT s.ext_uuid::text AS ext FROM hgnn_edges e JOIN graph_node_map s ON s.node_id = e.src_node_id
             JOIN graph_node_map d ON d.node_id = e.dst_node_id
            WHERE e.edge_type = 'task__writes__memory_cell' AND d.ext_uuid = $1::uuid`,
          [latest?.id],
        );
        assert.deepEqual(
          rows.map((r) => r.ext),
          [winner.id],
        );
        assert.equal((await listArtifacts(t.db, { task: loser.id })).items.length, 0);
      } finally {
        await da.stop({ graceMs: 0 });
        await db_.stop({ graceMs: 0 });
        if (other !== t.db) await other.close();
      }
    });

    it("a task without an agent: what it writes is owned by the worker organ's agent; a context with no task row refuses", async () => {
      const task = await tasks.submit({ type: 'no-agent' });
      const mem = createTaskMemory(t.db, task.id, 'organ-agent');
      const cell = await mem.put('organ', 'state', { ok: true });
      assert.deepEqual(cell.owners, ['organ-agent']);
      assert.equal(cell.writtenBy, task.id);
      // Positive control for the absence below: without an organ agent there is no owner.
      const bare = await createTaskMemory(t.db, task.id).put('organ', 'state-2', 1);
      assert.deepEqual(bare.owners, []);
      assert.deepEqual(await edgesTo(t.db, 'memory_cell', [bare.id]), ['task__writes__memory_cell']);
      const noRow = inMemoryDurable();
      await assert.rejects(noRow.memory.get('a', 'b'), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_UNAVAILABLE'));
      await assert.rejects(noRow.artifacts.add({ uri: 'x' }), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_UNAVAILABLE'));
    });

    it('lists artifacts newest first with a cursor and a kind filter, and the latest version of each memory key', async () => {
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await addArtifact(t.db, { uri: `file:///tmp/list-${i}`, kind: i % 2 === 0 ? 'file' : 'blob' }));
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await listArtifacts(t.db, { limit: 2, kind: 'file', ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((a) => a.uri));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(seen, ['file:///tmp/list-4', 'file:///tmp/list-2', 'file:///tmp/list-0']);
      assert.equal((await getArtifact(t.db, made[1]?.id as string)).kind, 'blob');
      await assert.rejects(getArtifact(t.db, '00000000-0000-4000-8000-000000000000'), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
      await putMemory(t.db, 'list-scope', 'b', 1);
      await putMemory(t.db, 'list-scope', 'a', 1);
      await putMemory(t.db, 'list-scope', 'a', 2);
      await putMemory(t.db, 'list-scope', 'c', 1);
      const p1 = await listMemory(t.db, { scope: 'list-scope', limit: 2 });
      assert.deepEqual(
        p1.items.map((c) => [c.key, c.version]),
        [
          ['a', 2],
          ['b', 1],
        ],
      );
      const p2 = await listMemory(t.db, { scope: 'list-scope', limit: 2, cursor: p1.nextCursor as string });
      assert.deepEqual(
        p2.items.map((c) => [c.key, c.version]),
        [['c', 1]],
      );
      assert.equal(p2.nextCursor, null);
    });
  });
  describe(`memory and artifacts over HTTP and the CLI (${kind})`, () => {
    let t: TestDb | undefined;
    let db: Db;
    let target: string[];
    const dir = mkdtempSync(join(tmpdir(), 'seedcore-agents-memory-'));
    let taskId: string;
    let artifactId: string;
    let closed = false;
    before(async () => {
      if (kind === 'postgres') {
        t = await freshDb('postgres');
        db = t.db;
        target = ['--database-url', t.url as string];
      } else {
        // The CLI opens the data directory itself: the records are written first, then closed.
        db = await PGliteDb.open({ dataDir: join(dir, 'data') });
        await migrate(db);
        target = ['--data-dir', join(dir, 'data')];
      }
      taskId = (await new TaskCoordinator(db).submit({ type: 'mem-http', agentId: 'writer' })).id;
      const mem = createTaskMemory(db, taskId);
      await mem.put('agent', 'notes', { v: 1 });
      await mem.put('agent', 'notes', { v: 2 }, { expectedVersion: 1 });
      await mem.put('agent', 'todo', ['a']);
      await putMemory(db, 'global', 'flag', true);
      artifactId = (await addArtifact(db, { uri: 's3://b/report.pdf', kind: 's3', props: { pages: 3 } }, { taskId })).id;
      await addArtifact(db, { uri: 'file:///tmp/unrelated', kind: 'file' });
    });
    after(async () => {
      if (kind === 'pglite' && !closed) await db.close();
      await t?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('GET /api/memory (versions, latest per key, one version), /api/artifacts, /api/tasks/:id/artifacts', async () => {
      const core = await openSeedCore({ db, migrate: false });
      const { app } = await buildServer({ core, apiToken: '' });
      try {
        const versions = await app.inject({ method: 'GET', url: '/api/memory?scope=agent&key=notes' });
        assert.equal(versions.statusCode, 200, versions.body);
        const vb = versions.json<{ items: MemoryCell[]; nextCursor: string | null }>();
        assert.deepEqual(
          vb.items.map((c) => [c.version, c.value, c.writtenBy, c.owners]),
          [
            [2, { v: 2 }, taskId, ['writer']],
            [1, { v: 1 }, taskId, ['writer']],
          ],
        );
        assert.equal(vb.nextCursor, null);
        const paged = await app.inject({ method: 'GET', url: '/api/memory?scope=agent&key=notes&limit=1' });
        const cursor = paged.json<{ nextCursor: string }>().nextCursor;
        assert.ok(cursor);
        const next = await app.inject({ method: 'GET', url: `/api/memory?scope=agent&key=notes&limit=1&cursor=${cursor}` });
        assert.deepEqual(
          next.json<{ items: MemoryCell[] }>().items.map((c) => c.version),
          [1],
        );
        const latest = await app.inject({ method: 'GET', url: '/api/memory?scope=agent' });
        assert.deepEqual(
          latest.json<{ items: MemoryCell[] }>().items.map((c) => [c.key, c.version]),
          [
            ['notes', 2],
            ['todo', 1],
          ],
        );
        const one = await app.inject({ method: 'GET', url: '/api/memory?scope=agent&key=notes&version=1' });
        assert.deepEqual(one.json<{ items: MemoryCell[] }>().items[0]?.value, { v: 1 });
        const missing = await app.inject({ method: 'GET', url: '/api/memory?scope=agent&key=notes&version=9' });
        assert.equal(missing.statusCode, 404);
        const bad = await app.inject({ method: 'GET', url: '/api/memory?scope=agent&key=notes&cursor=zzz' });
        assert.equal(bad.statusCode, 400);
        assert.equal(bad.json<{ error: { code: string } }>().error.code, 'SEEDCORE_INVALID_INPUT');
        const byTask = await app.inject({ method: 'GET', url: `/api/tasks/${taskId.slice(0, 13)}/artifacts` });
        assert.equal(byTask.statusCode, 200, byTask.body);
        assert.deepEqual(
          byTask.json<{ items: Array<{ id: string; props: unknown; producedBy: string[] }> }>().items.map((a) => [a.id, a.props, a.producedBy]),
          [[artifactId, { pages: 3 }, [taskId]]],
        );
        const all = await app.inject({ method: 'GET', url: '/api/artifacts?limit=10' });
        assert.equal(all.json<{ items: unknown[] }>().items.length, 2);
        const filtered = await app.inject({ method: 'GET', url: `/api/artifacts?task=${taskId}` });
        assert.equal(filtered.json<{ items: unknown[] }>().items.length, 1);
        const single = await app.inject({ method: 'GET', url: `/api/artifacts/${artifactId}` });
        assert.equal(single.json<{ uri: string }>().uri, 's3://b/report.pdf');
        const unknown = await app.inject({ method: 'GET', url: '/api/artifacts/00000000-0000-4000-8000-000000000000' });
        assert.equal(unknown.statusCode, 404);
      } finally {
        await app.close();
      }
    });

    it('seedcore memory get|list and artifacts list', async () => {
      if (kind === 'pglite') {
        await db.close(); // release the data directory for the CLI
        closed = true;
      }
      const cli = (...args: string[]) => runCli([...target, ...args]);
      const got = await cli('--json', 'memory', 'get', 'agent', 'notes');
      assert.equal(got.code, 0, got.stderr);
      assert.deepEqual((JSON.parse(got.stdout) as MemoryCell).value, { v: 2 });
      const v1 = await cli('memory', 'get', 'agent', 'notes', '1');
      assert.equal(v1.code, 0, v1.stderr);
      assert.match(v1.stdout, /^agent\/notes v1 /);
      const none = await cli('memory', 'get', 'agent', 'nothing');
      assert.equal(none.code, 4);
      assert.match(none.stderr, /SEEDCORE_NOT_FOUND/);
      const versions = await cli('--json', 'memory', 'list', '--scope', 'agent', '--key', 'notes');
      assert.equal(versions.code, 0, versions.stderr);
      assert.deepEqual(
        (JSON.parse(versions.stdout) as { items: MemoryCell[] }).items.map((c) => c.version),
        [2, 1],
      );
      const keys = await cli('memory', 'list');
      assert.equal(keys.code, 0, keys.stderr);
      assert.match(keys.stdout, /^agent\/notes v2 .*\(task [0-9a-f-]{36}, owners writer\)$/m);
      assert.match(keys.stdout, /^global\/flag v1 .* true$/m);
      const arts = await cli('--json', 'artifacts', 'list', '--task', taskId.slice(0, 13));
      assert.equal(arts.code, 0, arts.stderr);
      assert.deepEqual(
        (JSON.parse(arts.stdout) as { items: Array<{ id: string }> }).items.map((a) => a.id),
        [artifactId],
      );
      const usage = await cli('memory', 'list', '--key', 'notes');
      assert.equal(usage.code, 2, usage.stderr);
      assert.match(usage.stderr, /SEEDCORE_INVALID_INPUT/);
    });
  });
}
