import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addArtifact, getArtifact, listArtifacts } from '../src/agents/artifacts.js';
import { createTaskMemory, getMemory, listMemory, listMemoryVersions, putMemory, type MemoryCell } from '../src/agents/memory.js';
import { PostgresDb, type Db } from '../src/db/index.js';
import { isSeedCoreError } from '../src/errors.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { inMemoryDurable } from '../src/tasks/durable/memory.js';
import type { TaskContext } from '../src/tasks/types.js';
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
      const other: Db = kind === 'postgres' ? await PostgresDb.open({ databaseUrl: t.url as string, poolSize: 4 }) : t.db;
      const da = await startDispatcher(t.db, { handlers: { 'mem-a': handler('a', 'b') }, ownerId: 'mem-worker-a' });
      const db_ = await startDispatcher(other, { handlers: { 'mem-b': handler('b', 'a') }, ownerId: 'mem-worker-b' });
      try {
        const ta = await tasks.submit({ type: 'mem-a', params: { p: 1 }, agentId: 'planner' });
        const tb = await tasks.submit({ type: 'mem-b', params: { p: 2 }, agentId: 'planner' });
        await waitFor(
          'both memory tasks to complete',
          async () => (await taskRow(t.db, ta.id)).status === 'completed' && (await taskRow(t.db, tb.id)).status === 'completed',
          60_000,
          50,
        );
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
}
