import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSeedCoreError, openSeedCore } from '../src/index.js';
import { BACKENDS, freshDb } from './helpers/db.js';

for (const kind of BACKENDS) {
  describe(`SeedCore facade: facts and registry (${kind})`, () => {
    it('exposes facts and registry; close() stops clients and reconcilers started through it', async () => {
      const t = await freshDb(kind);
      try {
        const sc = await openSeedCore({ db: t.db, migrate: false });
        const f = await sc.facts.add({ text: 'Facade facts are searchable', tags: ['facade'] });
        assert.deepEqual(
          (await sc.facts.search({ query: 'searchable facade' })).hits.map((h) => h.id),
          [f.id],
        );
        const client = sc.registry.client({
          logicalId: 'facade',
          heartbeatBaseMs: 50,
          heartbeatJitterMs: 0,
          logger: { info: () => undefined, warn: () => undefined },
        });
        const id = await client.start();
        sc.registry.startReconciler({ intervalMs: 50 });
        assert.equal((await sc.registry.lookup('facade'))?.instance_id, id);
        const page = await sc.registry.list();
        assert.deepEqual(
          [Object.keys(page).sort(), page.items.map((i) => i.instance_id), page.nextCursor],
          [['items', 'nextCursor'], [id], null],
          'list() is a page, the shape GET /api/registry/instances answers',
        );
        assert.deepEqual(
          (await sc.registry.list({ all: true, limit: 5 })).items.map((i) => i.instance_id),
          [id],
        );
        await assert.rejects(sc.registry.list({ limit: 0 }), (e) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT') && e.details?.path === 'limit');
        const epoch = await sc.registry.currentEpoch();
        assert.notEqual(await sc.registry.rotateEpoch(), epoch);
        await sc.close();
        const r = await t.db.query<{ status: string }>('SELECT status::text FROM registry_instance WHERE logical_id = $1 ORDER BY started_at DESC LIMIT 1', [
          'facade',
        ]);
        assert.equal(r.rows[0]?.status, 'dead', 'the latest incarnation was closed by SeedCore.close()');
        assert.equal(client.closed, true);
      } finally {
        await t.cleanup();
      }
    });
  });
}
