/**
 * The package root exports one style: openSeedCore and the SeedCore facade, types, and a
 * fixed list of building blocks without a facade form. The exact set of runtime names is
 * pinned, so an accidental addition (or removal) fails here. The free functions that left the
 * root are still exported by their modules (positive control: the absence checks name real
 * functions), and each capability they gave is reachable through the facade, exercised on
 * both backends: agents (organs, live providers, capabilities, unroutable tasks, stats),
 * memory, artifacts, durable-task events (emit, prune) and task retention.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as root from '../src/index.js';
import { isSeedCoreError, isTaskSuspended, openSeedCore, type SeedCore } from '../src/index.js';
import { BACKENDS, freshDb } from './helpers/db.js';
import { waitFor } from './helpers/wait.js';

/** Every runtime export of the package root, sorted. */
const RUNTIME_EXPORTS = [
  'DEFAULT_DATA_DIR',
  'DEFAULT_MAX_CANDIDATES',
  'EDGE_TYPES',
  'EMBEDDING_DIM',
  'ERROR_CODES',
  'FACT_POLICIES',
  'NODE_TYPES',
  'PGliteDb',
  'PostgresDb',
  'SeedCoreError',
  'TASK_PRIORITIES',
  'TASK_STATUSES',
  'Worker',
  'buildServer',
  'builtinHandlers',
  'connect',
  'createWorker',
  'fastRP',
  'isSeedCoreError',
  'isTaskSuspended',
  'latestSlot',
  'migrate',
  'migrationStatus',
  'nextSlot',
  'openSeedCore',
  'parseCron',
  'startService',
];

/** Names the root exported before it had one style, by the module that still exports them. */
const LEFT_THE_ROOT: Record<string, string[]> = {
  '../src/facts/index.js': [
    'addFact',
    'getFact',
    'updateFact',
    'deleteFact',
    'searchFacts',
    'createTaskFacts',
    'createFactsApi',
    'invalidateFact',
    'factVersions',
    'getFactProvenance',
    'listFactConflicts',
    'resolveFactConflict',
    'setPredicatePolicy',
    'listPredicatePolicies',
  ],
  '../src/registry/index.js': [
    'RegistryClient',
    'lookup',
    'listActive',
    'listInstances',
    'listRegistry',
    'RegistryListQuerySchema',
    'currentEpoch',
    'rotateEpoch',
    'expireInstances',
    'reconcileOnce',
    'startReconciler',
    'attachRegistry',
    'joinAsWorker',
    'createRegistryApi',
  ],
  '../src/graph/index.js': ['createGraphApi', 'createEmbeddingsApi', 'graphHandlers'],
  '../src/tasks/index.js': [
    'TaskCoordinator',
    'Dispatcher',
    'backoffDelay',
    'TaskSchedules',
    'ScheduleRunner',
    'setQueueLimit',
    'listQueues',
    'pruneTasks',
    'parseAge',
  ],
  '../src/tasks/suspend.js': ['TaskSuspended'],
  '../src/tasks/durable/events.js': ['emitTaskEvent'],
  '../src/tasks/retention.js': ['pruneTaskEvents'],
  '../src/agents/memory.js': ['getMemory', 'putMemory', 'listMemory', 'listMemoryVersions'],
  '../src/agents/artifacts.js': ['addArtifact', 'getArtifact', 'listArtifacts'],
  '../src/agents/stats.js': ['agentStats'],
  '../src/agents/organs.js': ['getOrgan', 'liveProviders', 'listOrgans'],
  '../src/agents/routing.js': ['listCapabilities', 'unroutableTaskIds'],
  '../src/demo/load.js': ['isEmptyDatabase', 'loadDemoData'],
};

describe('the package root', () => {
  it('exports exactly the facade, the building blocks and the constants', () => {
    assert.deepEqual(Object.keys(root).sort(), RUNTIME_EXPORTS);
  });

  it('no longer exports the free functions, which their modules still export', async () => {
    const exported = new Set(Object.keys(root));
    for (const [path, names] of Object.entries(LEFT_THE_ROOT)) {
      const mod = (await import(path)) as Record<string, unknown>;
      for (const name of names) {
        assert.notEqual(mod[name], undefined, `${path} exports ${name} (a real name, so its absence from the root means something)`);
        assert.ok(!exported.has(name), `${name} is not exported by the package root`);
      }
    }
  });
});

/** Open the facade on a fresh database, run `fn`, close both. */
async function withCore(kind: (typeof BACKENDS)[number], fn: (sc: SeedCore) => Promise<void>): Promise<void> {
  const t = await freshDb(kind);
  try {
    const sc = await openSeedCore({ db: t.db, migrate: false });
    try {
      await fn(sc);
    } finally {
      await sc.close();
    }
  } finally {
    await t.cleanup();
  }
}

for (const kind of BACKENDS) {
  describe(`what left the root works through the facade (${kind})`, () => {
    it('agents: organs, live providers, capabilities, unroutable tasks and stats', async () => {
      await withCore(kind, async (sc) => {
        const w = sc.createDispatcher({
          handlers: { noop: async () => ({ ok: true }) },
          pollIntervalMs: 50,
          organ: { id: 'surface-organ', agentId: 'surface-agent', capabilities: [{ name: 'summarize', version: '2' }], skills: ['english'] },
        });
        await w.start();
        try {
          const page = await sc.agents.organs.list();
          assert.deepEqual(
            page.items.map((o) => [o.organId, o.agentId, o.capabilities, o.skills, o.instances]),
            [['surface-organ', 'surface-agent', [{ name: 'summarize', version: '2' }], ['english'], [w.ownerId]]],
          );
          assert.equal(page.nextCursor, null);
          assert.deepEqual((await sc.agents.organs.get('surface-organ')).instances, [w.ownerId]);
          await assert.rejects(sc.agents.organs.get('no-such-organ'), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
          assert.deepEqual(await sc.agents.organs.liveProviders({ capability: 'summarize' }), [
            { capability: 'summarize', version: '2', organId: 'surface-organ', instanceId: w.ownerId },
          ]);
          assert.deepEqual(await sc.agents.organs.liveProviders({ capability: 'translate' }), []);

          // One task the organ can serve, one that needs a capability nobody provides.
          const served = await sc.tasks.submit({ type: 'noop', requires: ['summarize>=2'] });
          const stuck = await sc.tasks.submit({ type: 'noop', requires: ['translate'] });
          await waitFor('the routed task to complete', async () => (await sc.tasks.get(served.id)).status === 'completed', 60_000, 50);
          assert.deepEqual(await sc.agents.unroutable(), [stuck.id]);
          const caps = Object.fromEntries((await sc.agents.capabilities()).map((c) => [c.name, [c.providers.map((p) => p.organId), c.waiting]]));
          assert.deepEqual(caps, { summarize: [['surface-organ'], 0], translate: [[], 1] });

          const stats = await sc.agents.stats({ window: '1h', dimensions: ['organ'] });
          const organ = stats.items.find((s) => s.dimension === 'organ' && s.key === 'surface-organ');
          assert.ok(organ, JSON.stringify(stats));
          assert.deepEqual([organ.runs, organ.completed, organ.failed], [1, 1, 0]);
          await assert.rejects(sc.agents.stats({ window: 'soon' }), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
        } finally {
          await w.stop({ graceMs: 0 });
        }
      });
    });

    it('memory: put, get, versions, list, compare-and-set', async () => {
      await withCore(kind, async (sc) => {
        const v1 = await sc.memory.put('agent', 'plan', { step: 1 }, { expectedVersion: 0, agentIds: ['surface-agent'] });
        const v2 = await sc.memory.put('agent', 'plan', { step: 2 }, { expectedVersion: 1 });
        assert.deepEqual([v1.version, v1.owners, v2.version], [1, ['surface-agent'], 2]);
        assert.deepEqual((await sc.memory.get('agent', 'plan'))?.value, { step: 2 });
        assert.deepEqual((await sc.memory.get('agent', 'plan', { version: 1 }))?.value, { step: 1 });
        assert.equal(await sc.memory.get('agent', 'nothing-here'), null);
        await assert.rejects(sc.memory.put('agent', 'plan', { step: 'stale' }, { expectedVersion: 1 }), (e) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'));
        assert.deepEqual(
          (await sc.memory.versions('agent', 'plan')).items.map((c) => c.version),
          [2, 1],
        );
        await sc.memory.put('global', 'other', 'x');
        assert.deepEqual(
          (await sc.memory.list({ scope: 'agent' })).items.map((c) => [c.key, c.version]),
          [['plan', 2]],
        );
      });
    });

    it('artifacts: add (with its producing task), get, list', async () => {
      await withCore(kind, async (sc) => {
        const task = await sc.tasks.submit({ type: 'noop' });
        const a = await sc.artifacts.add({ uri: 's3://bucket/report.pdf', kind: 's3', props: { pages: 3 } }, { taskId: task.id });
        const b = await sc.artifacts.add({ uri: 'file:///tmp/loose.txt', kind: 'file' });
        assert.deepEqual(await sc.artifacts.get(a.id), a);
        assert.deepEqual(a.producedBy, [task.id]);
        assert.deepEqual(
          (await sc.artifacts.list({ task: task.id })).items.map((x) => x.id),
          [a.id],
        );
        assert.deepEqual(
          (await sc.artifacts.list()).items.map((x) => x.id),
          [b.id, a.id],
        );
        await assert.rejects(sc.artifacts.get('00000000-0000-4000-8000-000000000000'), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
      });
    });

    it('durable events: a suspended handler resumes on tasks.emitEvent; tasks.pruneEvents deletes old events', async () => {
      await withCore(kind, async (sc) => {
        const w = sc.createDispatcher({
          handlers: {
            approve: async (_task, ctx) => {
              try {
                return { payload: await ctx.awaitEvent('surface:go', { timeoutSeconds: 600 }) };
              } catch (e) {
                // A handler that catches around a suspending call rethrows the suspension.
                if (isTaskSuspended(e)) throw e;
                return { caught: String(e) };
              }
            },
          },
          pollIntervalMs: 50,
        });
        await w.start();
        try {
          const task = await sc.tasks.submit({ type: 'approve' });
          await waitFor(
            'the task to wait for the event',
            async () => (await sc.tasks.list({ waiting: 'event:surface:go' })).items.some((t) => t.id === task.id),
            60_000,
            50,
          );
          assert.equal(await sc.tasks.emitEvent('surface:go', { approved: true }), true);
          assert.equal(await sc.tasks.emitEvent('surface:go', { approved: false }), false, 'the first emit of a name wins');
          await waitFor('the task to complete', async () => (await sc.tasks.get(task.id)).status === 'completed', 60_000, 50);
          assert.deepEqual((await sc.tasks.get(task.id)).result, { payload: { approved: true } });
        } finally {
          await w.stop({ graceMs: 0 });
        }
        assert.deepEqual(await sc.tasks.pruneEvents({ olderThanSeconds: 3600 }), { deleted: 0 }, 'a fresh event is younger than an hour');
        assert.deepEqual(await sc.tasks.pruneEvents({ olderThanSeconds: 0 }), { deleted: 1 });
        assert.equal(await sc.tasks.emitEvent('surface:go'), true, 'after pruning, the name can be emitted again');
      });
    });

    it('retention: tasks.prune deletes old ended tasks of the given statuses', async () => {
      await withCore(kind, async (sc) => {
        const gone = await sc.tasks.submit({ type: 'noop' });
        const kept = await sc.tasks.submit({ type: 'noop' });
        await sc.tasks.cancel(gone.id);
        assert.deepEqual(await sc.tasks.prune({ olderThanSeconds: 0 }), { deleted: 0, batches: 1 }, 'by default only completed tasks are pruned');
        assert.deepEqual(await sc.tasks.prune({ olderThanSeconds: 0, statuses: ['cancelled'] }), { deleted: 1, batches: 1 });
        await assert.rejects(sc.tasks.get(gone.id), (e) => isSeedCoreError(e, 'SEEDCORE_NOT_FOUND'));
        assert.equal((await sc.tasks.get(kept.id)).status, 'queued', 'a waiting task is never pruned');
        await assert.rejects(sc.tasks.prune({ olderThanSeconds: 0, statuses: ['queued'] }), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
      });
    });
  });
}
