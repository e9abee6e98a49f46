import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

interface Hit {
  id: string;
  text: string;
  snippet: string;
  conflicts: number;
  confidence: number;
}

for (const kind of BACKENDS) {
  describe(`facts over HTTP (${kind})`, () => {
    let s: TestServer;
    before(async () => {
      s = await testServer(kind);
    });
    after(async () => s.close());

    const rows = async (): Promise<string> => {
      const r = await s.core.db.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM facts) || '/' || (SELECT count(*) FROM fact_versions) || '/' || (SELECT count(*) FROM fact_conflicts)
             || '/' || (SELECT count(*) FROM fact_predicate_policies) || '/' || (SELECT count(*) FROM fact_sources) AS n`,
      );
      return r.rows[0]?.n ?? '';
    };
    const post = (url: string, payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url, payload });
    const search = async (qs: string): Promise<Hit[]> => {
      const r = await s.app.inject(`/api/facts?${qs}`);
      assert.equal(r.statusCode, 200, r.body);
      return (r.json() as { items: Hit[] }).items;
    };

    it('search takes the metadata filter, asOf and minConfidence; unknown parameters and bad values are 400 and write nothing', async () => {
      const docs = (await post('/api/facts', { text: 'Kelp forests shelter otters', meta_data: { source: 'docs' }, confidence: 0.9 })).json() as { id: string };
      const blog = (await post('/api/facts', { text: 'Kelp forests grow fast', meta_data: { source: 'blog' }, confidence: 0.4 })).json() as { id: string };
      const meta = encodeURIComponent('{"source":"docs"}');
      assert.deepEqual(
        (await search(`q=kelp&meta=${meta}`)).map((h) => h.id),
        [docs.id],
      );
      assert.deepEqual((await search('q=kelp')).map((h) => h.id).sort(), [docs.id, blog.id].sort(), 'positive control: both match without the filter');
      assert.deepEqual(
        (await search('q=kelp&minConfidence=0.5')).map((h) => h.id),
        [docs.id],
      );
      assert.deepEqual(await search('q=kelp&asOf=2000-01-01T00:00:00Z'), [], 'neither held in 2000');
      const before1 = await rows();
      for (const qs of ['q=kelp&bogus=1', 'q=kelp&meta=%7Bnot', 'q=kelp&meta=%5B1%5D', 'q=kelp&asOf=yesterday', 'q=kelp&minConfidence=2']) {
        const r = await s.app.inject(`/api/facts?${qs}`);
        assert.equal(r.statusCode, 400, qs);
        const body = r.json() as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'SEEDCORE_INVALID_INPUT', qs);
        if (qs.includes('bogus')) assert.match(body.error.message, /bogus/);
      }
      for (const [url, payload] of [
        ['/api/facts', { text: 'x', confidence: 3 }],
        ['/api/facts', { text: 'x', subject: 'only' }],
        ['/api/facts', { text: 'x', sources: [{ kind: 'rumour', ref: 'r' }] }],
        ['/api/facts', { text: 'x', derivedFrom: ['00000000-0000-4000-8000-00000000dead'] }],
        ['/api/facts', { text: 'x', valid_from: '0000-01-01T00:00:00Z' }],
      ] as Array<[string, Record<string, unknown>]>) {
        const r = await post(url, payload);
        assert.ok(r.statusCode === 400 || r.statusCode === 404, `${JSON.stringify(payload)}: ${r.statusCode}`);
      }
      assert.equal(await rows(), before1, 'rejected requests wrote nothing');
    });

    it('markup in a fact is searchable and comes back escaped, never stripped', async () => {
      const f = (await post('/api/facts', { text: 'Never paste <script>alert(1)</script> into a form & co' })).json() as { id: string };
      for (const q of ['<script>alert(1)</script>', 'script alert']) {
        const hits = await search(`q=${encodeURIComponent(q)}`);
        assert.deepEqual(
          hits.map((h) => h.id),
          [f.id],
          q,
        );
        const snippet = hits[0]?.snippet ?? '';
        assert.ok(!snippet.includes('<script>'), snippet);
        assert.match(snippet, /&lt;.*script.*&gt;/);
        assert.match(snippet, /&amp; co/);
      }
      assert.equal(((await s.app.inject(`/api/facts/${f.id}`)).json() as { text: string }).text, 'Never paste <script>alert(1)</script> into a form & co');
    });

    it('versions, invalidation, conflicts, resolution and policies', async () => {
      const a = (await post('/api/facts', { text: 'The bridge opens at 9', subject: 'bridge', predicate: 'opens', object: '09:00' })).json() as { id: string };
      const patched = await s.app.inject({ method: 'PATCH', url: `/api/facts/${a.id}`, payload: { confidence: 0.5 } });
      assert.equal((patched.json() as { version: number }).version, 2);
      const versions = (await s.app.inject(`/api/facts/${a.id}/versions`)).json() as { items: Array<{ version: number; confidence: number }> };
      assert.deepEqual(
        versions.items.map((v) => [v.version, v.confidence]),
        [[1, 1]],
      );
      const b = (await post('/api/facts', { text: 'The bridge opens at 10', subject: 'bridge', predicate: 'opens', object: '10:00' })).json() as { id: string };
      const flagged = await search('q=bridge%20opens');
      assert.ok(flagged.length === 2 && flagged.every((h) => h.conflicts === 1));
      const list = (await s.app.inject('/api/facts/conflicts?subject=bridge')).json() as {
        items: Array<{ id: number; fact_id: string; other_fact_id: string }>;
      };
      assert.equal(list.items.length, 1);
      const c = list.items[0] as { id: number; fact_id: string; other_fact_id: string };
      assert.deepEqual([c.fact_id, c.other_fact_id], [b.id, a.id]);
      const before2 = await rows();
      assert.equal((await post(`/api/facts/conflicts/${c.id}/resolve`, { winner: b.id, keepBoth: true })).statusCode, 400);
      assert.equal((await post(`/api/facts/conflicts/${c.id}/resolve`, {})).statusCode, 400);
      assert.equal((await post('/api/facts/conflicts/999999/resolve', { keepBoth: true })).statusCode, 404);
      assert.equal((await s.app.inject({ method: 'PUT', url: '/api/facts/policies/opens', payload: { policy: 'coin_toss' } })).statusCode, 400);
      assert.equal((await s.app.inject('/api/facts/conflicts?status=maybe')).statusCode, 400);
      assert.equal(await rows(), before2);
      const resolved = await post(`/api/facts/conflicts/${c.id}/resolve`, { winner: b.id, by: 'harbour master' });
      assert.equal(resolved.statusCode, 200, resolved.body);
      assert.equal((resolved.json() as { resolution: string }).resolution, 'winner');
      const loser = (await s.app.inject(`/api/facts/${a.id}`)).json() as { valid_to: string | null; invalid_reason: string };
      assert.ok(loser.valid_to !== null);
      assert.match(loser.invalid_reason, /resolved in favour of/);
      assert.deepEqual(
        (await search('q=bridge%20opens')).map((h) => h.id),
        [b.id],
      );

      const put = await s.app.inject({ method: 'PUT', url: '/api/facts/policies/opens', payload: { policy: 'latest_wins' } });
      assert.equal(put.statusCode, 200, put.body);
      assert.deepEqual(
        ((await s.app.inject('/api/facts/policies')).json() as { items: Array<{ predicate: string; policy: string }> }).items.map((p) => [
          p.predicate,
          p.policy,
        ]),
        [['opens', 'latest_wins']],
      );
      const inv = await post(`/api/facts/${b.id}/invalidate`, { reason: 'bridge closed for works' });
      assert.equal(inv.statusCode, 200, inv.body);
      assert.equal((inv.json() as { invalid_reason: string }).invalid_reason, 'bridge closed for works');
      assert.equal((await post(`/api/facts/${b.id}/invalidate`, { reason: 'again' })).statusCode, 409);
    });

    it('the OpenAPI document describes the new routes', async () => {
      const doc = (await s.app.inject('/openapi.json')).json() as { paths: Record<string, unknown> };
      for (const p of [
        '/api/facts/{id}/provenance',
        '/api/facts/{id}/versions',
        '/api/facts/{id}/invalidate',
        '/api/facts/conflicts',
        '/api/facts/conflicts/{id}/resolve',
        '/api/facts/policies/{predicate}',
      ])
        assert.ok(p in doc.paths, p);
    });
  });
}
