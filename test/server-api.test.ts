import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { BACKENDS } from './helpers/db.js';
import { openEventStream, testServer, type TestServer } from './helpers/server.js';

async function count(s: TestServer, table: string): Promise<number> {
  const { rows } = await s.core.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]?.n ?? -1;
}

for (const kind of BACKENDS) {
  describe(`server API (${kind})`, () => {
    let s: TestServer;
    before(async () => {
      s = await testServer(kind);
    });
    after(async () => s.close());

    it('answers health and readiness', async () => {
      assert.deepEqual((await s.app.inject('/healthz')).json(), { status: 'ok' });
      const r = await s.app.inject('/readyz');
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json(), { status: 'ready', backend: kind });
    });

    it('answers unknown routes with a 404 in the error shape', async () => {
      const r = await s.app.inject('/api/nothing-here');
      assert.equal(r.statusCode, 404);
      assert.equal(r.json().error.code, 'SEEDCORE_NOT_FOUND');
      assert.match(r.json().error.message, /no route GET \/api\/nothing-here/);
    });

    it('rejects wrong query types with 400 SEEDCORE_INVALID_INPUT', async () => {
      for (const url of ['/api/graph-tasks?limit=abc', '/api/graph-tasks?status=sleeping', '/api/graph-tasks?limit=0', '/api/facts?limit=100000']) {
        const r = await s.app.inject(url);
        assert.equal(r.statusCode, 400, url);
        assert.equal(r.json().error.code, 'SEEDCORE_INVALID_INPUT', url);
        assert.equal(typeof r.json().error.message, 'string');
      }
    });

    it('rejects malformed JSON, unknown fields, wrong types and oversized bodies, writing nothing', async () => {
      const before = await count(s, 'facts');
      const bad: Array<[string, number, Record<string, string>?]> = [
        ['{"text": "unterminated', 400],
        [JSON.stringify({ text: 'ok', colour: 'red' }), 400],
        [JSON.stringify({ text: 42 }), 400],
        [JSON.stringify({ text: 'ok', tags: 'not-an-array' }), 400],
        [JSON.stringify({ text: '' }), 400],
        [JSON.stringify({ text: 'x'.repeat(1024 * 1024 + 10) }), 413],
        ['text=hello', 415, { 'content-type': 'application/x-www-form-urlencoded' }],
      ];
      for (const [payload, status, headers] of bad) {
        const r = await s.app.inject({ method: 'POST', url: '/api/facts', payload, headers: headers ?? { 'content-type': 'application/json' } });
        assert.equal(r.statusCode, status, payload.slice(0, 40));
        assert.equal(r.json().error.code, 'SEEDCORE_INVALID_INPUT');
      }
      assert.equal(await count(s, 'facts'), before);
    });

    it('creates, reads by prefix, updates, searches and deletes facts', async () => {
      const created = await s.app.inject({
        method: 'POST',
        url: '/api/facts',
        payload: { text: 'Zebras graze on the savanna grass', tags: ['animals'], meta_data: { src: 'test' } },
      });
      assert.equal(created.statusCode, 201);
      const fact = created.json();
      assert.match(fact.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(fact.tags, ['animals']);
      assert.equal((await s.app.inject(`/api/facts/${fact.id.slice(0, 13)}`)).json().id, fact.id);

      const patched = await s.app.inject({ method: 'PATCH', url: `/api/facts/${fact.id}`, payload: { tags: ['animals', 'africa'] } });
      assert.deepEqual(patched.json().tags, ['animals', 'africa']);
      const empty = await s.app.inject({ method: 'PATCH', url: `/api/facts/${fact.id}`, payload: {} });
      assert.equal(empty.statusCode, 400);

      const found = (await s.app.inject('/api/facts?q=zebra%20grazing&tag=africa')).json();
      assert.equal(found.items.length, 1);
      assert.equal(found.items[0].id, fact.id);
      assert.match(found.items[0].snippet, /<b>Zebras<\/b>/);
      assert.equal((await s.app.inject('/api/facts?q=zebra&tag=nothing')).json().items.length, 0);

      const del = await s.app.inject({ method: 'DELETE', url: `/api/facts/${fact.id}` });
      assert.equal(del.statusCode, 200);
      const gone = await s.app.inject(`/api/facts/${fact.id}`);
      assert.equal(gone.statusCode, 404);
      assert.equal(gone.json().error.code, 'SEEDCORE_NOT_FOUND');
    });

    it('answers an ambiguous id prefix with 409', async () => {
      await s.core.db.query(
        `INSERT INTO facts (id, text) VALUES ('abcd1234-0000-4000-8000-000000000001', 'one'), ('abcd1234-0000-4000-8000-000000000002', 'two')`,
      );
      const r = await s.app.inject('/api/facts/abcd1234');
      assert.equal(r.statusCode, 409);
      assert.equal(r.json().error.code, 'SEEDCORE_AMBIGUOUS_ID');
      assert.equal((await s.app.inject('/api/facts/abcd1234-0000-4000-8000-000000000002')).json().text, 'two');
    });

    it('lists graph tasks from the graph_tasks view with status emojis', async () => {
      await s.core.db.query(`SELECT create_graph_embed_task(ARRAY[1,2]::bigint[], 2, 'embed test')`);
      await s.core.db.query(`INSERT INTO tasks (type, status) VALUES ('other', 'queued')`);
      const r = (await s.app.inject('/api/graph-tasks')).json();
      assert.equal(r.items.length, 1);
      assert.equal(r.items[0].type, 'graph_embed');
      assert.equal(r.items[0].status_emoji, '⏳');
      assert.deepEqual(r.items[0].params, { start_ids: [1, 2], k: 2 });
      assert.match(r.items[0].created_at, /^\d{4}-\d\d-\d\dT/);
      assert.equal((await s.app.inject('/api/graph-tasks?status=completed')).json().items.length, 0);
    });

    it('shows live registry instances with heartbeat age and finds the active one', async () => {
      await s.core.db.query(`SELECT set_current_epoch('11111111-1111-4111-8111-111111111111')`);
      await s.core.db.query(
        `SELECT register_instance('22222222-2222-4222-8222-222222222222', 'cognitive_organ_1', '11111111-1111-4111-8111-111111111111', 'Organ', '/organ', 'node-a', '10.0.0.7', 4242)`,
      );
      await s.core.db.query(`SELECT set_instance_status('22222222-2222-4222-8222-222222222222', 'alive')`);
      const list = (await s.app.inject('/api/registry/instances')).json();
      assert.equal(list.items.length, 1);
      assert.equal(list.items[0].logical_id, 'cognitive_organ_1');
      assert.equal(list.items[0].ip_address, '10.0.0.7');
      assert.ok(list.items[0].heartbeat_age_seconds >= 0 && list.items[0].heartbeat_age_seconds < 30);
      const active = await s.app.inject('/api/registry/active/cognitive_organ_1');
      assert.equal(active.statusCode, 200);
      assert.equal(active.json().instance_id, '22222222-2222-4222-8222-222222222222');
      assert.equal((await s.app.inject('/api/registry/active/nobody')).statusCode, 404);
      await s.core.db.query(`SELECT set_instance_status('22222222-2222-4222-8222-222222222222', 'dead')`);
      assert.equal((await s.app.inject('/api/registry/instances')).json().items.length, 0);
      assert.equal((await s.app.inject('/api/registry/instances?all=true')).json().items[0].status, 'dead');
    });

    it('serves Prometheus metrics with the SeedCore metric names', async () => {
      await s.app.inject('/healthz');
      const r = await s.app.inject('/metrics');
      assert.equal(r.statusCode, 200);
      assert.match(r.headers['content-type'] as string, /text\/plain/);
      for (const name of [
        'seedcore_tasks{status="queued"}',
        'seedcore_instances_alive',
        'seedcore_task_attempts_started',
        'seedcore_http_requests_total',
        'seedcore_task_handler_duration_seconds',
        'seedcore_task_claims_total',
        'seedcore_task_completions_total',
        'seedcore_lease_recoveries_total',
      ]) {
        assert.ok(r.body.includes(name), name);
      }
      const queued = Number(/seedcore_tasks\{status="queued"\} (\d+)/.exec(r.body)?.[1]);
      const { rows } = await s.core.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks WHERE status = 'queued'`);
      assert.equal(queued, rows[0]?.n);
    });

    it('publishes an OpenAPI 3 document listing every route, and the offline docs page', async () => {
      const doc = (await s.app.inject('/openapi.json')).json();
      assert.equal(doc.openapi, '3.0.3');
      assert.equal(doc.info.title, 'SeedCore API');
      for (const path of [
        '/healthz',
        '/readyz',
        '/metrics',
        '/api/graph-tasks',
        '/api/facts',
        '/api/facts/{id}',
        '/api/registry/instances',
        '/api/registry/active/{logicalId}',
        '/api/events',
      ]) {
        assert.ok(doc.paths[path], `missing ${path}`);
      }
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses?: unknown }>>)) {
        for (const [method, op] of Object.entries(ops)) assert.ok(op.responses, `${method} ${path} has responses`);
      }
      assert.ok(doc.paths['/api/facts'].post.requestBody, 'POST /api/facts documents its body');
      // Every path parameter is declared and every $ref resolves inside the document.
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>>)) {
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          for (const [method, op] of Object.entries(ops)) {
            assert.ok(
              op.parameters?.some((p) => p.in === 'path' && p.name === name),
              `${method} ${path} declares {${name}}`,
            );
          }
        }
      }
      const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1] as string);
      for (const ref of refs) {
        const target = ref.split('/').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
        assert.ok(target, `$ref #/${ref} resolves`);
      }
      assert.equal((await s.app.inject('/docs')).statusCode, 200);
      const bundle = await s.app.inject('/docs/static/swagger-ui-bundle.js');
      assert.equal(bundle.statusCode, 200);
      assert.ok(bundle.body.length > 100_000, 'swagger UI assets are served from the package');
    });

    it('serves the dashboard files', async () => {
      const html = await s.app.inject('/');
      assert.equal(html.statusCode, 200);
      assert.match(html.headers['content-type'] as string, /text\/html/);
      assert.match(html.body, /<script[^>]*src="\/dashboard\/app.js"/);
      assert.equal((await s.app.inject('/dashboard/app.js')).statusCode, 200);
      assert.equal((await s.app.inject('/dashboard/style.css')).statusCode, 200);
    });

    it('streams an overview event over a real socket after a task insert (LISTEN/NOTIFY)', async () => {
      const url = await s.app.listen({ port: 0, host: '127.0.0.1' });
      const stream = await openEventStream(`${url}/api/events`);
      try {
        const hello = JSON.parse((await stream.next((e) => e.event === 'overview')).data);
        assert.equal(hello.reason, 'hello');
        const queuedBefore = hello.counts.queued as number;
        await s.core.db.query(`INSERT INTO tasks (type, status) VALUES ('sse_probe', 'queued')`);
        const ev = await stream.next((e) => e.event === 'overview' && JSON.parse(e.data).reason === 'notify', 3000);
        const data = JSON.parse(ev.data);
        assert.equal(data.counts.queued, queuedBefore + 1);
        assert.notEqual(data.version, hello.version);
      } finally {
        stream.close();
      }
    });
  });

  describe(`server auth (${kind})`, () => {
    let s: TestServer;
    before(async () => {
      s = await testServer(kind, { apiToken: 's3cret-token' });
    });
    after(async () => s.close());

    it('requires the bearer token on /api routes only', async () => {
      const none = await s.app.inject('/api/overview');
      assert.equal(none.statusCode, 401);
      assert.equal(none.json().error.code, 'SEEDCORE_UNAUTHORIZED');
      assert.equal((await s.app.inject({ url: '/api/overview', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
      assert.equal((await s.app.inject({ url: '/api/overview', headers: { authorization: 's3cret-token' } })).statusCode, 401);
      assert.equal((await s.app.inject({ url: '/api/overview', headers: { authorization: 'Bearer s3cret-token' } })).statusCode, 200);
      assert.equal((await s.app.inject('/api/overview/')).statusCode, 401, 'trailing slash');
      assert.equal((await s.app.inject('/api/no-such-route')).statusCode, 401, 'unknown /api routes reveal nothing');
      // A query token is accepted for the event stream only (EventSource cannot send headers).
      assert.equal((await s.app.inject('/api/overview?token=s3cret-token')).statusCode, 401);
      for (const open of ['/healthz', '/readyz', '/metrics', '/', '/openapi.json']) assert.equal((await s.app.inject(open)).statusCode, 200, open);
    });

    it('writes nothing for an unauthorised POST', async () => {
      const before = await count(s, 'facts');
      const r = await s.app.inject({ method: 'POST', url: '/api/facts', payload: { text: 'should not be stored' } });
      assert.equal(r.statusCode, 401);
      assert.equal(await count(s, 'facts'), before);
    });

    it('sends security headers with the dashboard', async () => {
      const r = await s.app.inject('/');
      assert.match(r.headers['content-security-policy'] as string, /default-src 'self'/);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    });

    it('accepts ?token= on the event stream', async () => {
      const url = await s.app.listen({ port: 0, host: '127.0.0.1' });
      await assert.rejects(openEventStream(`${url}/api/events`), /401/);
      const stream = await openEventStream(`${url}/api/events?token=s3cret-token`);
      try {
        assert.equal(JSON.parse((await stream.next()).data).reason, 'hello');
      } finally {
        stream.close();
      }
    });
  });
}

describe('HTTP error mapping', () => {
  it('hides internals of 5xx errors and classifies raw database errors', async () => {
    const { toHttpError } = await import('../src/server/http-errors.js');
    const { SeedCoreError } = await import('../src/errors.js');
    const dbErr = toHttpError(new SeedCoreError('SEEDCORE_DB_ERROR', 'relation "secret_table" does not exist'));
    assert.equal(dbErr.status, 500);
    assert.doesNotMatch(dbErr.body.error.message, /secret_table/);
    const raw = toHttpError(Object.assign(new Error('invalid input syntax for type uuid: "x"'), { code: '22P02' }));
    assert.equal(raw.status, 400);
    assert.equal(raw.body.error.code, 'SEEDCORE_INVALID_INPUT');
    const unknown = toHttpError(new TypeError('x is undefined'));
    assert.deepEqual([unknown.status, unknown.body.error.code], [500, 'SEEDCORE_INTERNAL']);
  });
});

describe('request logs', () => {
  it('never contain the ?token= of an event stream', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const s = await testServer('pglite', { apiToken: 'log-secret-123', logger: { level: 'info', stream }, logRequests: true });
    try {
      const url = await s.app.listen({ port: 0, host: '127.0.0.1' });
      const events = await openEventStream(`${url}/api/events?token=log-secret-123`);
      await events.next();
      events.close();
      await s.app.inject({ url: '/api/overview?token=log-secret-123' });
      await s.app.inject({ url: '/api/overview?%74oken=log-secret-123&%70assword=log-secret-123' });
    } finally {
      await s.close();
    }
    const log = lines.join('');
    assert.match(log, /"url":"\/api\/events\?token=\[redacted\]"/);
    assert.doesNotMatch(log, /log-secret-123/);
  });
});
