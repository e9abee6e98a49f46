/**
 * Organs as a public list: GET /api/organs (paged like every list) and GET /api/organs/:id
 * answer what listOrgans() and getOrgan() return, and `seedcore organs list|get --json`
 * prints the same.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getOrgan, listOrgans, registerOrgan, type OrganInfo } from '../src/agents/organs.js';
import type { Db } from '../src/db/types.js';
import { cliDatabase, runCli, type CliDatabase } from './helpers/cli.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

/** Three organs, registered without a worker (so no live instance). */
async function registerThree(db: Db): Promise<void> {
  await registerOrgan(db, { id: 'organ-a', agentId: 'agent-1', capabilities: [{ name: 'summarize', version: '2.1' }], skills: ['english'] });
  await registerOrgan(db, { id: 'organ-b', agentId: null, capabilities: [], skills: [] });
  await registerOrgan(db, {
    id: 'organ-c',
    agentId: 'agent-1',
    capabilities: [
      { name: 'ocr', version: '3' },
      { name: 'embed', version: '1.4.0' },
    ],
    skills: ['vision', 'french'],
  });
}

const EXPECTED: OrganInfo[] = [
  { organId: 'organ-a', agentId: 'agent-1', capabilities: [{ name: 'summarize', version: '2.1' }], skills: ['english'], instances: [] },
  { organId: 'organ-b', agentId: null, capabilities: [], skills: [], instances: [] },
  {
    organId: 'organ-c',
    agentId: 'agent-1',
    capabilities: [
      { name: 'embed', version: '1.4.0' },
      { name: 'ocr', version: '3' },
    ],
    skills: ['french', 'vision'],
    instances: [],
  },
];

for (const kind of BACKENDS) {
  describe(`organs over HTTP, the library and the CLI (${kind})`, () => {
    let s: TestServer;
    before(async () => {
      s = await testServer(kind);
      await registerThree(s.core.db);
    });
    after(async () => s?.close());

    it('GET /api/organs pages what listOrgans returns; GET /api/organs/:id is getOrgan', async () => {
      const all = await s.app.inject({ url: '/api/organs' });
      assert.equal(all.statusCode, 200, all.body);
      assert.deepEqual(all.json(), { items: EXPECTED, nextCursor: null });
      assert.deepEqual(all.json(), await listOrgans(s.core.db));

      const first = (await s.app.inject({ url: '/api/organs?limit=2' })).json<{ items: OrganInfo[]; nextCursor: string | null }>();
      assert.deepEqual(
        first.items.map((o) => o.organId),
        ['organ-a', 'organ-b'],
      );
      assert.ok(first.nextCursor);
      assert.deepEqual(first, await listOrgans(s.core.db, { limit: 2 }));
      const second = (await s.app.inject({ url: `/api/organs?limit=2&cursor=${first.nextCursor}` })).json();
      assert.deepEqual(second, { items: [EXPECTED[2]], nextCursor: null });

      const one = await s.app.inject({ url: '/api/organs/organ-c' });
      assert.equal(one.statusCode, 200);
      assert.deepEqual(one.json(), EXPECTED[2]);
      assert.deepEqual(one.json(), await getOrgan(s.core.db, 'organ-c'));
      const missing = await s.app.inject({ url: '/api/organs/nobody' });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json<{ error: { code: string } }>().error.code, 'SEEDCORE_NOT_FOUND');
      const bad = await s.app.inject({ url: '/api/organs?cursor=not-a-cursor' });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json<{ error: { code: string } }>().error.code, 'SEEDCORE_INVALID_INPUT');
    });

    it('lists a live organ with its instance, and is in the OpenAPI document', async () => {
      const w = s.core.createDispatcher({ handlers: { noop: async () => ({}) }, organ: { id: 'organ-b', skills: ['late'] } });
      await w.start();
      try {
        assert.deepEqual((await s.app.inject({ url: '/api/organs/organ-b' })).json(), {
          organId: 'organ-b',
          agentId: null,
          capabilities: [],
          skills: ['late'],
          instances: [w.ownerId],
        });
      } finally {
        await w.stop({ graceMs: 0 });
      }
      assert.deepEqual((await s.app.inject({ url: '/api/organs/organ-b' })).json().instances, [], 'a stopped organ has no live instance');
      const doc = (await s.app.inject('/openapi.json')).json<{ paths: Record<string, { get?: { responses: Record<string, unknown> } }> }>();
      assert.ok(doc.paths['/api/organs']?.get?.responses['200']);
      assert.ok(doc.paths['/api/organs/{id}']?.get?.responses['404']);
    });
  });

  describe(`seedcore organs list|get (${kind}, a real process)`, () => {
    let c: CliDatabase;
    before(async () => {
      c = await cliDatabase(kind, registerThree);
    });
    after(async () => c?.cleanup());

    it('prints the library page with --json, and pages with --limit/--cursor', { timeout: 120_000 }, async () => {
      const all = await runCli([...c.target, '--json', 'organs', 'list']);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(JSON.parse(all.stdout), { items: EXPECTED, nextCursor: null });
      const first = await runCli([...c.target, '--json', 'organs', 'list', '--limit', '2']);
      const page = JSON.parse(first.stdout) as { items: OrganInfo[]; nextCursor: string };
      assert.deepEqual(page.items, EXPECTED.slice(0, 2));
      const rest = await runCli([...c.target, '--json', 'organs', 'list', '--limit', '2', '--cursor', page.nextCursor]);
      assert.deepEqual(JSON.parse(rest.stdout), { items: [EXPECTED[2]], nextCursor: null });
      const one = await runCli([...c.target, '--json', 'organs', 'get', 'organ-a']);
      assert.deepEqual(JSON.parse(one.stdout), EXPECTED[0]);
      const text = await runCli([...c.target, 'organs', 'list']);
      assert.match(text.stdout, /organ-c {2}agent agent-1 {2}capabilities embed@1\.4\.0,ocr@3 {2}skills french,vision {2}not live/);
      const missing = await runCli([...c.target, 'organs', 'get', 'nobody']);
      assert.equal(missing.code, 4, missing.stderr);
      assert.match(missing.stderr, /SEEDCORE_NOT_FOUND/);
    });
  });
}
