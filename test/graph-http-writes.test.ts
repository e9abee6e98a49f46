/**
 * Changing the graph over HTTP: GET, PATCH and DELETE /api/graph/nodes/:type/:id, GET
 * /api/graph/nodes/:nodeId and DELETE /api/graph/edges, over a real socket with a token set.
 * Each route is the library's updateNode / deleteNode / removeEdge / getNode: the same checks
 * (a bad input names its `path`, `expected`, `got` as the library does), not found → 404,
 * an entity a task still uses → 409 with nothing deleted. The CLI's `graph node update|delete`
 * and `graph edge remove` answer alike with their exit codes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isSeedCoreError } from '../src/errors.js';
import { createGraphApi } from '../src/graph/index.js';
import type { SeedCore } from '../src/seedcore.js';
import { BACKENDS } from './helpers/db.js';
import { cliDatabase, runCli, type CliDatabase } from './helpers/cli.js';
import { testServer, type TestServer } from './helpers/server.js';

const TOKEN = 'graph-writes-token';

interface Answer {
  status: number;
  body: unknown;
}

interface ErrorAnswer {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

for (const kind of BACKENDS) {
  describe(`graph writes over HTTP (${kind})`, () => {
    let s: TestServer;
    let base: string;

    before(async () => {
      s = await testServer(kind, { apiToken: TOKEN });
      base = await s.app.listen({ port: 0, host: '127.0.0.1' });
    });
    after(async () => {
      await s.close();
    });

    async function call(method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Answer> {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const r = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      const text = await r.text();
      return { status: r.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
    }

    const code = (a: Answer): string | undefined => (a.body as ErrorAnswer | undefined)?.error?.code;
    const rejection = (a: Answer) => {
      const d = (a.body as ErrorAnswer).error.details ?? {};
      return { code: code(a), path: d.path, expected: d.expected, got: d.got };
    };
    async function libraryRejection(fn: (core: SeedCore) => Promise<unknown>) {
      try {
        await fn(s.core);
      } catch (e) {
        assert.ok(isSeedCoreError(e), String(e));
        const d = e.details ?? {};
        return { code: e.code, path: d.path, expected: d.expected, got: d.got };
      }
      assert.fail('the library accepted it');
    }
    async function counts(): Promise<Record<string, number>> {
      const { rows } = await s.core.db.query<Record<string, number>>(
        `SELECT (SELECT count(*)::int FROM graph_node_map) AS nodes, (SELECT count(*)::int FROM agent_registry) AS agents,
                (SELECT count(*)::int FROM capability) AS capabilities, (SELECT count(*)::int FROM agent_collab_agent) AS collab,
                (SELECT count(*)::int FROM task_uses_capability) AS uses`,
      );
      return rows[0] as Record<string, number>;
    }

    it('creates, updates, reads back and deletes a node; then it is 404 everywhere', async () => {
      const created = await call('POST', '/api/graph/nodes', { type: 'agent', id: 'w-agent', attributes: { display_name: 'First' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const node = created.body as { node_id: number; node_type: string; ext_id: string };

      const patched = await call('PATCH', '/api/graph/nodes/agent/w-agent', { attributes: { display_name: 'Second', props: { team: 'blue' } } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual(patched.body, node, 'PATCH answers with the same node');

      const read = await call('GET', '/api/graph/nodes/agent/w-agent');
      assert.equal(read.status, 200, JSON.stringify(read.body));
      const got = read.body as { node_id: number; attributes: Record<string, unknown> };
      assert.equal(got.node_id, node.node_id);
      assert.equal(got.attributes.display_name, 'Second');
      assert.deepEqual(got.attributes.props, { team: 'blue' });
      assert.deepEqual(read.body, JSON.parse(JSON.stringify(await s.core.graph.getNode({ type: 'agent', id: 'w-agent' }))), 'GET is getNode');
      const byId = await call('GET', `/api/graph/nodes/${node.node_id}`);
      assert.equal(byId.status, 200);
      assert.deepEqual(byId.body, read.body, 'by node id the same node');

      // null clears an optional attribute; the others are kept.
      const cleared = await call('PATCH', '/api/graph/nodes/agent/w-agent', { attributes: { props: null } });
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
      const after = (await call('GET', '/api/graph/nodes/agent/w-agent')).body as { attributes: Record<string, unknown> };
      assert.deepEqual([after.attributes.display_name, after.attributes.props], ['Second', null]);

      const deleted = await call('DELETE', '/api/graph/nodes/agent/w-agent');
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      assert.equal(deleted.body, undefined, '204 has no body');
      assert.equal(await s.core.graph.getNode({ type: 'agent', id: 'w-agent' }), undefined, 'the library no longer finds it');
      for (const [method, path, body] of [
        ['GET', '/api/graph/nodes/agent/w-agent', undefined],
        ['GET', `/api/graph/nodes/${node.node_id}`, undefined],
        ['PATCH', '/api/graph/nodes/agent/w-agent', { attributes: { display_name: 'Third' } }],
        ['DELETE', '/api/graph/nodes/agent/w-agent', undefined],
      ] as const) {
        const r = await call(method, path, body);
        assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.body)}`);
        assert.equal(code(r), 'SEEDCORE_NOT_FOUND', `${method} ${path}`);
      }
      const nodes = await s.core.db.query('SELECT 1 FROM graph_node_map WHERE node_id = $1', [node.node_id]);
      assert.equal(nodes.rowCount, 0, 'the node went with the entity');
    });

    it('updates and deletes a uuid-keyed node by its generated id', async () => {
      const created = await call('POST', '/api/graph/nodes', { type: 'capability', attributes: { name: 'w-summarize' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = (created.body as { ext_id: string }).ext_id;
      const patched = await call('PATCH', `/api/graph/nodes/capability/${id}`, { attributes: { name: 'w-summarize-2' } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(((await call('GET', `/api/graph/nodes/capability/${id}`)).body as { attributes: { name: string } }).attributes.name, 'w-summarize-2');
      assert.equal((await call('DELETE', `/api/graph/nodes/capability/${id}`)).status, 204);
      assert.equal((await call('GET', `/api/graph/nodes/capability/${id}`)).status, 404);
    });

    it('removes an edge: gone from the neighbours, a second removal is 404; a deleted node takes its edges', async () => {
      for (const id of ['w-e1', 'w-e2', 'w-e3']) assert.equal((await call('POST', '/api/graph/nodes', { type: 'agent', id })).status, 201);
      const e1 = (await s.core.graph.resolveNode({ type: 'agent', id: 'w-e1' })).node_id;
      const e3 = (await s.core.graph.resolveNode({ type: 'agent', id: 'w-e3' })).node_id;
      assert.equal((await call('POST', '/api/graph/edges', { edge_type: 'agent__collab__agent', src: 'w-e1', dst: 'w-e2' })).status, 201);
      assert.equal((await call('POST', '/api/graph/edges', { edge_type: 'agent__collab__agent', src: 'w-e1', dst: 'w-e3' })).status, 201);
      const around = async (nodeId: number) =>
        ((await call('GET', `/api/graph/neighbors/${nodeId}`)).body as { neighbors: { ext_id: string }[] }).neighbors.map((n) => n.ext_id).sort();
      assert.deepEqual(await around(e1), ['w-e2', 'w-e3'], 'positive control: both neighbours are there');

      const removed = await call('DELETE', '/api/graph/edges', { edge_type: 'agent__collab__agent', src: 'w-e1', dst: 'w-e2' });
      assert.equal(removed.status, 204, JSON.stringify(removed.body));
      assert.deepEqual(await around(e1), ['w-e3'], 'the removed edge is gone from the neighbours, the other stays');
      const again = await call('DELETE', '/api/graph/edges', { edge_type: 'agent__collab__agent', src: 'w-e1', dst: 'w-e2' });
      assert.equal(again.status, 404, JSON.stringify(again.body));
      assert.equal(code(again), 'SEEDCORE_NOT_FOUND');
      const noEndpoint = await call('DELETE', '/api/graph/edges', { edge_type: 'agent__collab__agent', src: 'w-e1', dst: 'w-nobody' });
      assert.equal(noEndpoint.status, 404);
      assert.equal(code(noEndpoint), 'SEEDCORE_NOT_FOUND');

      // An endpoint by node id, as POST takes it.
      assert.equal((await call('POST', '/api/graph/edges', { edge_type: 'agent__collab__agent', src: 'w-e2', dst: 'w-e3' })).status, 201);
      const byId = await call('DELETE', '/api/graph/edges', { edge_type: 'agent__collab__agent', src: 'w-e2', dst: { nodeId: e3 } });
      assert.equal(byId.status, 204, JSON.stringify(byId.body));
      assert.equal(await s.core.graph.removeEdge('agent__collab__agent', 'w-e2', 'w-e3'), false, 'the library sees it removed');

      // Deleting w-e3 takes the edge w-e1 → w-e3 with it.
      assert.equal((await call('DELETE', '/api/graph/nodes/agent/w-e3')).status, 204);
      assert.deepEqual(await around(e1), [], 'the deleted node is no neighbour any more');
    });

    it('refuses to delete a capability a task uses (409, nothing deleted) until the edge is removed', async () => {
      const cap = await s.core.graph.createNode('capability', undefined, { name: 'w-in-use' });
      const task = await s.core.tasks.submit({ type: 'w-uses' });
      await s.core.graph.addEdge('task__uses__capability', task.id, cap.ext_id);
      const before = await counts();
      const refused = await call('DELETE', `/api/graph/nodes/capability/${cap.ext_id}`);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(code(refused), 'SEEDCORE_CONFLICT');
      await assert.rejects(s.core.graph.deleteNode('capability', cap.ext_id), (e) => isSeedCoreError(e, 'SEEDCORE_CONFLICT'), 'the library refuses alike');
      assert.deepEqual(await counts(), before, 'nothing was deleted');
      assert.equal((await call('GET', `/api/graph/nodes/capability/${cap.ext_id}`)).status, 200);

      const edge = { edge_type: 'task__uses__capability', src: task.id, dst: cap.ext_id };
      assert.equal((await call('DELETE', '/api/graph/edges', edge)).status, 204);
      assert.equal((await call('DELETE', `/api/graph/nodes/capability/${cap.ext_id}`)).status, 204, 'without the edge it can be deleted');
      assert.equal((await s.core.tasks.get(task.id))?.id, task.id, 'the task stays');
    });

    it('answers a conflicting update with 409 and leaves the entity as it was', async () => {
      await s.core.graph.createNode('capability', undefined, { name: 'w-taken' });
      const mine = await s.core.graph.createNode('capability', undefined, { name: 'w-mine' });
      const r = await call('PATCH', `/api/graph/nodes/capability/${mine.ext_id}`, { attributes: { name: 'w-taken', props: { x: 1 } } });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(code(r), 'SEEDCORE_CONFLICT');
      const row = await s.core.graph.getNode({ type: 'capability', id: mine.ext_id });
      assert.deepEqual([row?.attributes.name, row?.attributes.props], ['w-mine', null], 'neither attribute was written');
    });

    it('rejects bad input with the library’s path, expected and got, and writes nothing', async () => {
      await s.core.graph.createNode('agent', 'w-bad', { display_name: 'Kept' });
      await s.core.graph.createNode('memory_cell', '00000000-0000-4000-8000-0000000000aa', { scope: 'w', mkey: 'k', version: 1 });
      const before = await counts();
      const cases: Array<{ why: string; method: string; url: string; body?: unknown; library: (c: SeedCore) => Promise<unknown>; path: string }> = [
        {
          why: 'update: an attribute the type does not have',
          method: 'PATCH',
          url: '/api/graph/nodes/agent/w-bad',
          body: { attributes: { colour: 'red' } },
          library: (c) => c.graph.updateNode('agent', 'w-bad', { colour: 'red' }),
          path: 'attributes.colour',
        },
        {
          why: 'update: attributes not an object',
          method: 'PATCH',
          url: '/api/graph/nodes/agent/w-bad',
          body: { attributes: [1] },
          library: (c) => c.graph.updateNode('agent', 'w-bad', [1] as never),
          path: 'attributes',
        },
        {
          why: 'update: no attributes',
          method: 'PATCH',
          url: '/api/graph/nodes/agent/w-bad',
          body: { attributes: {} },
          library: (c) => c.graph.updateNode('agent', 'w-bad', {}),
          path: 'attributes',
        },
        {
          why: 'update: a good attribute and a fraction for an integer one',
          method: 'PATCH',
          url: '/api/graph/nodes/memory_cell/00000000-0000-4000-8000-0000000000aa',
          body: { attributes: { scope: 'changed', version: 1.5 } },
          library: (c) => c.graph.updateNode('memory_cell', '00000000-0000-4000-8000-0000000000aa', { scope: 'changed', version: 1.5 }),
          path: 'attributes.version',
        },
        {
          why: 'update: a required attribute set to null',
          method: 'PATCH',
          url: '/api/graph/nodes/memory_cell/00000000-0000-4000-8000-0000000000aa',
          body: { attributes: { scope: null } },
          library: (c) => c.graph.updateNode('memory_cell', '00000000-0000-4000-8000-0000000000aa', { scope: null }),
          path: 'attributes.scope',
        },
        {
          why: 'update: unknown node type',
          method: 'PATCH',
          url: '/api/graph/nodes/planet/x',
          body: { attributes: { name: 'x' } },
          library: (c) => c.graph.updateNode('planet', 'x', { name: 'x' }),
          path: 'type',
        },
        {
          why: 'update: a task',
          method: 'PATCH',
          url: '/api/graph/nodes/task/00000000-0000-4000-8000-000000000001',
          body: { attributes: { x: 1 } },
          library: (c) => c.graph.updateNode('task', '00000000-0000-4000-8000-000000000001', { x: 1 }),
          path: 'type',
        },
        {
          why: 'update: a uuid-keyed type with an id that is not a uuid',
          method: 'PATCH',
          url: '/api/graph/nodes/capability/abc',
          body: { attributes: { name: 'x' } },
          library: (c) => c.graph.updateNode('capability', 'abc', { name: 'x' }),
          path: 'id',
        },
        {
          why: 'delete: a blank id',
          method: 'DELETE',
          url: '/api/graph/nodes/agent/%20%20',
          library: (c) => c.graph.deleteNode('agent', '  '),
          path: 'id',
        },
        {
          why: 'delete: a task',
          method: 'DELETE',
          url: '/api/graph/nodes/task/00000000-0000-4000-8000-000000000001',
          library: (c) => c.graph.deleteNode('task', '00000000-0000-4000-8000-000000000001'),
          path: 'type',
        },
        {
          why: 'delete: unknown node type',
          method: 'DELETE',
          url: '/api/graph/nodes/planet/x',
          library: (c) => c.graph.deleteNode('planet', 'x'),
          path: 'type',
        },
        {
          why: 'get: a uuid-keyed type with an id that is not a uuid',
          method: 'GET',
          url: '/api/graph/nodes/fact/abc',
          library: (c) => c.graph.getNode({ type: 'fact', id: 'abc' }),
          path: 'id',
        },
        {
          why: 'remove edge: unknown edge type',
          method: 'DELETE',
          url: '/api/graph/edges',
          body: { edge_type: 'agent__hates__agent', src: 'w-bad', dst: 'w-bad' },
          library: (c) => c.graph.removeEdge('agent__hates__agent', 'w-bad', 'w-bad'),
          path: 'edge_type',
        },
        {
          why: 'remove edge: a blank endpoint',
          method: 'DELETE',
          url: '/api/graph/edges',
          body: { edge_type: 'agent__collab__agent', src: 'w-bad', dst: ' ' },
          library: (c) => c.graph.removeEdge('agent__collab__agent', 'w-bad', ' '),
          path: 'dst',
        },
        {
          why: 'remove edge: a node id that is not a number',
          method: 'DELETE',
          url: '/api/graph/edges',
          body: { edge_type: 'agent__collab__agent', src: { nodeId: 'abc' }, dst: 'w-bad' },
          library: (c) => c.graph.removeEdge('agent__collab__agent', { nodeId: 'abc' }, 'w-bad'),
          path: 'src.nodeId',
        },
      ];
      for (const c of cases) {
        const lib = await libraryRejection(c.library);
        assert.equal(lib.code, 'SEEDCORE_INVALID_INPUT', c.why);
        assert.equal(lib.path, c.path, `${c.why}: library path`);
        assert.equal(typeof lib.expected, 'string', `${c.why}: the library says what it expected`);
        const r = await call(c.method, c.url, c.body);
        assert.equal(r.status, 400, `${c.why}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(rejection(r), lib, `${c.why}: HTTP says what the library says`);
      }

      // Shapes only HTTP can send: a field PATCH does not take, DELETE /api/graph/edges without a body.
      const extra = await call('PATCH', '/api/graph/nodes/agent/w-bad', { attributes: { display_name: 'x' }, type: 'agent' });
      assert.equal(extra.status, 400);
      assert.equal(rejection(extra).path, 'type');
      const empty = await call('DELETE', '/api/graph/edges');
      assert.equal(empty.status, 400, JSON.stringify(empty.body));
      assert.equal(code(empty), 'SEEDCORE_INVALID_INPUT');

      assert.deepEqual(await counts(), before, 'no rejected input wrote or deleted a row');
      assert.equal((await s.core.graph.getNode({ type: 'agent', id: 'w-bad' }))?.attributes.display_name, 'Kept');
      assert.equal((await s.core.graph.getNode({ type: 'memory_cell', id: '00000000-0000-4000-8000-0000000000aa' }))?.attributes.scope, 'w');
    });

    it('refuses writes without the token, and does them with it', async () => {
      await s.core.graph.createNode('agent', 'w-auth-1', { display_name: 'Unchanged' });
      await s.core.graph.createNode('agent', 'w-auth-2');
      await s.core.graph.addEdge('agent__collab__agent', 'w-auth-1', 'w-auth-2');
      const before = await counts();
      const writes = [
        ['PATCH', '/api/graph/nodes/agent/w-auth-1', { attributes: { display_name: 'Changed' } }],
        ['DELETE', '/api/graph/edges', { edge_type: 'agent__collab__agent', src: 'w-auth-1', dst: 'w-auth-2' }],
        ['DELETE', '/api/graph/nodes/agent/w-auth-2', undefined],
      ] as const;
      for (const [method, path, body] of writes) {
        for (const token of [null, 'wrong-token']) {
          const r = await call(method, path, body, token);
          assert.equal(r.status, 401, `${method} ${path} with ${token ?? 'no token'}`);
          assert.equal(code(r), 'SEEDCORE_UNAUTHORIZED');
        }
      }
      assert.deepEqual(await counts(), before, 'nothing was deleted');
      assert.equal((await s.core.graph.getNode({ type: 'agent', id: 'w-auth-1' }))?.attributes.display_name, 'Unchanged', 'nothing was changed');
      assert.equal((await call('GET', '/api/graph/nodes/agent/w-auth-1', undefined, null)).status, 401, 'reads need it too');

      const expected = [200, 204, 204];
      for (const [i, [method, path, body]] of writes.entries()) {
        const r = await call(method, path, body);
        assert.equal(r.status, expected[i], `positive control: ${method} ${path} with the token (${JSON.stringify(r.body)})`);
      }
      assert.equal((await s.core.graph.getNode({ type: 'agent', id: 'w-auth-1' }))?.attributes.display_name, 'Changed');
      assert.equal(await s.core.graph.getNode({ type: 'agent', id: 'w-auth-2' }), undefined);
    });

    it('lists the routes in the OpenAPI document with the library schemas', async () => {
      const doc = (await call('GET', '/openapi.json', undefined, null)).body as {
        paths: Record<
          string,
          Record<string, { requestBody?: { content: Record<string, { schema: { properties?: object } }> }; parameters?: { name: string; in: string }[] }>
        >;
      };
      const node = doc.paths['/api/graph/nodes/{type}/{id}'];
      assert.ok(node, 'the node route is documented');
      assert.deepEqual(Object.keys(node).sort(), ['delete', 'get', 'patch']);
      assert.deepEqual(Object.keys(node.patch?.requestBody?.content['application/json']?.schema.properties ?? {}), ['attributes']);
      assert.deepEqual(
        (node.delete?.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        ['type', 'id'],
      );
      const edges = doc.paths['/api/graph/edges'];
      assert.deepEqual(Object.keys(edges ?? {}).sort(), ['delete', 'post']);
      assert.deepEqual(
        Object.keys(edges?.delete?.requestBody?.content['application/json']?.schema.properties ?? {}).sort(),
        ['dst', 'edge_type', 'src'],
        'DELETE takes the edge as POST does',
      );
      assert.ok(doc.paths['/api/graph/nodes/{nodeId}']?.get, 'GET by node id is documented');
    });
  });

  describe(`graph write commands (${kind})`, () => {
    let d: CliDatabase | undefined;
    let cap = '';
    let task = '';
    before(async () => {
      d = await cliDatabase(kind, async (db) => {
        const g = createGraphApi(db);
        await g.createNode('agent', 'c1', { display_name: 'One' });
        await g.createNode('agent', 'c2');
        await g.addEdge('agent__collab__agent', 'c1', 'c2');
        cap = (await g.createNode('capability', undefined, { name: 'c-in-use' })).ext_id;
        const r = await db.query<{ id: string }>(`INSERT INTO tasks (type) VALUES ('c-uses') RETURNING id::text AS id`);
        task = r.rows[0]?.id as string;
        await g.addEdge('task__uses__capability', task, cap);
      });
    });
    after(async () => {
      await d?.cleanup();
    });
    const cli = (...args: string[]) => runCli([...(d as CliDatabase).target, '--json', ...args], {}, 120_000);
    const errorCode = (stderr: string): string => (JSON.parse(stderr.trim().split('\n').pop() as string) as ErrorAnswer).error.code;

    it('updates, removes and deletes with the exit codes of not found (4) and conflict (5)', { timeout: 600_000 }, async () => {
      const updated = await cli('graph', 'node', 'update', 'agent', 'c1', '--attrs', '{"display_name":"Two"}');
      assert.equal(updated.code, 0, updated.stderr);
      const node = JSON.parse(updated.stdout) as { node_type: string; ext_id: string };
      assert.deepEqual([node.node_type, node.ext_id], ['agent', 'c1'], 'update prints the node, as PATCH answers');
      const read = await cli('graph', 'node', 'get', 'agent', 'c1');
      assert.equal(read.code, 0, read.stderr);
      assert.equal((JSON.parse(read.stdout) as { attributes: { display_name: string } }).attributes.display_name, 'Two');

      const removed = await cli('graph', 'edge', 'remove', 'agent__collab__agent', 'c1', 'c2');
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual(JSON.parse(removed.stdout), { removed: true });
      const again = await cli('graph', 'edge', 'remove', 'agent__collab__agent', 'c1', 'c2');
      assert.equal(again.code, 4, 'a missing edge exits 4, as HTTP answers 404');
      assert.deepEqual(JSON.parse(again.stdout), { removed: false });

      const refused = await cli('graph', 'node', 'delete', 'capability', cap);
      assert.equal(refused.code, 5, `a capability in use exits 5, as HTTP answers 409 (${refused.stderr})`);
      assert.equal(errorCode(refused.stderr), 'SEEDCORE_CONFLICT');

      const deleted = await cli('graph', 'node', 'delete', 'agent', 'c2');
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.deepEqual(JSON.parse(deleted.stdout), { deleted: true });
      const gone = await cli('graph', 'node', 'delete', 'agent', 'c2');
      assert.equal(gone.code, 4);
      assert.deepEqual(JSON.parse(gone.stdout), { deleted: false });
      const missing = await cli('graph', 'node', 'update', 'agent', 'c2', '--attrs', '{"display_name":"x"}');
      assert.equal(missing.code, 4, missing.stderr);
      assert.equal(errorCode(missing.stderr), 'SEEDCORE_NOT_FOUND');
    });
  });
}
