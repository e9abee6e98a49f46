/**
 * Organs as a public list: GET /api/organs (paged like every list) and GET /api/organs/:id
 * answer what listOrgans() and getOrgan() return, and `seedcore organs list|get --json`
 * prints the same. serve's embedded worker serves as an organ from SEEDCORE_ORGAN* (or the
 * serve flags), validated like the worker's flags before anything is written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getOrgan, listOrgans, registerOrgan, type OrganInfo } from '../src/agents/organs.js';
import type { Db } from '../src/db/types.js';
import { isSeedCoreError } from '../src/errors.js';
import { startService } from '../src/server/service.js';
import { cliDatabase, runCli, type CliDatabase } from './helpers/cli.js';
import { BACKENDS, emptyDb, freshDb, type TestDb } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

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

/** Set these environment variables while `fn` starts (startService reads them before its first await). */
function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const ORGAN_ENV = {
  SEEDCORE_ORGAN: 'serve-organ',
  SEEDCORE_ORGAN_AGENT: 'serve-agent',
  SEEDCORE_ORGAN_CAPABILITIES: 'summarize@2, embed@1.4.0',
  SEEDCORE_ORGAN_SKILLS: 'english',
};

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

  describe(`serve's embedded worker as an organ (${kind})`, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'seedcore-serve-organ-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('SEEDCORE_ORGAN* make the embedded worker an organ: registered under the organ id, with its offer', { timeout: 120_000 }, async () => {
      let t: TestDb | undefined;
      if (kind === 'postgres') t = await freshDb('postgres', { poolSize: 2 });
      try {
        const target = t ? { databaseUrl: t.url } : { dataDir: join(dir, 'good') };
        const service = await withEnv(ORGAN_ENV, () => startService({ ...target, port: 0, demo: false }));
        try {
          assert.equal(service.organ, 'serve-organ');
          const instanceId = service.background.instanceId as string;
          const organ = (await service.server.app.inject({ url: '/api/organs/serve-organ' })).json<OrganInfo>();
          assert.deepEqual(organ, {
            organId: 'serve-organ',
            agentId: 'serve-agent',
            capabilities: [
              { name: 'embed', version: '1.4.0' },
              { name: 'summarize', version: '2' },
            ],
            skills: ['english'],
            instances: [instanceId],
          });
          const row = await service.core.db.query<{ logical_id: string; actor_name: string }>(
            'SELECT logical_id, actor_name FROM registry_instance WHERE instance_id = $1',
            [instanceId],
          );
          assert.deepEqual(row.rows[0], { logical_id: 'serve-organ', actor_name: 'serve' });
          // It claims routed work: a task requiring summarize>=2 runs on it.
          const task = await service.core.tasks.submit({ type: 'echo', params: { x: 1 }, requires: ['summarize>=2'] });
          let status = task.status;
          await waitFor(
            'the routed task to complete',
            async () => (status = (await service.core.tasks.get(task.id))?.status ?? status) === 'completed',
            30_000,
            100,
          ).catch(() => undefined);
          assert.equal(status, 'completed');
        } finally {
          await service.stop();
        }
      } finally {
        await t?.cleanup();
      }
    });

    it('refuses a bad SEEDCORE_ORGAN* setting before anything is written', { timeout: 120_000 }, async () => {
      let t: TestDb | undefined;
      if (kind === 'postgres') t = await emptyDb('postgres');
      try {
        const target = t ? { databaseUrl: t.url } : { dataDir: join(dir, 'bad') };
        const cases: [Record<string, string>, RegExp][] = [
          [{ SEEDCORE_ORGAN: 'o', SEEDCORE_ORGAN_CAPABILITIES: 'summarize' }, /SEEDCORE_ORGAN_CAPABILITIES: expected name@version/],
          [{ SEEDCORE_ORGAN: 'o', SEEDCORE_ORGAN_CAPABILITIES: 'summarize@2.x' }, /got 'summarize@2\.x'/],
          [{ SEEDCORE_ORGAN: 'o', SEEDCORE_ORGAN_SKILLS: 'a,b c' }, /SEEDCORE_ORGAN_SKILLS: expected skill names/],
          [{ SEEDCORE_ORGAN: 'o p' }, /SEEDCORE_ORGAN: expected a non-empty id without spaces/],
          [{ SEEDCORE_ORGAN_AGENT: 'a' }, /SEEDCORE_ORGAN_AGENT describes an organ: give SEEDCORE_ORGAN <id> too/],
          [{ SEEDCORE_METRICS_MAX_AGE_MS: 'soon' }, /SEEDCORE_METRICS_MAX_AGE_MS must be a whole number of milliseconds/],
        ];
        for (const [vars, message] of cases) {
          await assert.rejects(
            withEnv(vars, () => startService({ ...target, port: 0, demo: false })),
            (e: unknown) => isSeedCoreError(e) && e.code === 'SEEDCORE_INVALID_INPUT' && message.test(e.message),
            JSON.stringify(vars),
          );
        }
        await assert.rejects(startService({ ...target, port: 0, demo: false, background: false, organ: { id: 'o' } }), /background work is off/);
        if (t) {
          // Not even migrated: the database was never opened for writing.
          const tables = await t.db.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
          assert.equal(tables.rowCount, 0);
        } else assert.equal(existsSync(join(dir, 'bad')), false, 'the data directory is not created');
      } finally {
        await t?.cleanup();
      }
    });

    // The flags are refused before any database is opened, so one backend shows it.
    if (kind === 'pglite')
      it('seedcore serve refuses bad organ flags (exit 2) before opening the database', { timeout: 120_000 }, async () => {
        const target = ['--data-dir', join(dir, 'cli')];
        const cases: [string[], RegExp][] = [
          [['--organ', 'o', '--capabilities', 'summarize'], /--capabilities: expected name@version/],
          [['--agent', 'a'], /--agent describes an organ: give --organ <id> too/],
          [['--organ', 'o', '--no-background'], /background work is off/],
        ];
        for (const [args, message] of cases) {
          const r = await runCli([...target, 'serve', '--port', '0', '--no-demo', ...args]);
          assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
          assert.match(r.stderr, /SEEDCORE_INVALID_INPUT/);
          assert.match(r.stderr, message);
        }
        assert.equal(existsSync(join(dir, 'cli')), false);
      });
  });
}
