/**
 * The server's edge: errors Fastify and Node's HTTP parser produce themselves come in the one
 * error shape; without a token only this server's own Host and Origin may use the API; HEAD on
 * the event stream answers; secrets stay out of the logs, which carry one line per request at
 * debug (info behind a flag).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { redactSecrets } from '../src/server/edges.js';
import { builtinHandlers } from '../src/handlers.js';
import type { TaskContext, TaskRecord } from '../src/tasks/types.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

/** Send raw bytes over a real socket and return the whole answer. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (d) => (out += d.toString()));
    socket.on('error', (e) => (out ? resolve(out) : reject(e)));
    socket.on('close', () => resolve(out));
    socket.write(text);
  });
}

function errorBodyOf(answer: string): { error: { code: string; message: string } } {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

for (const kind of BACKENDS) {
  describe(`server edges (${kind})`, () => {
    let s: TestServer;
    let port: number;
    before(async () => {
      s = await testServer(kind);
      await s.app.listen({ port: 0, host: '127.0.0.1' });
      port = (s.app.server.address() as { port: number }).port;
    });
    after(async () => s.close());

    it("answers the HTTP parser's own errors (431, malformed request) in the error shape", async () => {
      const big = await rawRequest(port, `GET /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.match(big, /^HTTP\/1\.1 431 /);
      assert.equal(errorBodyOf(big).error.code, 'SEEDCORE_INVALID_INPUT');
      const junk = await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n');
      assert.match(junk, /^HTTP\/1\.1 400 /);
      assert.equal(errorBodyOf(junk).error.code, 'SEEDCORE_INVALID_INPUT');
      // Positive control: the same socket path answers a good request.
      assert.match(await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
    });

    it("answers Fastify's routing errors (bad percent-encoding, an over-long parameter) in the error shape", async () => {
      const bad = await s.app.inject('/api/tasks/%ff');
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().error.code, 'SEEDCORE_INVALID_INPUT');
      const long = await s.app.inject(`/api/schedules/${'n'.repeat(3000)}`);
      assert.equal(long.statusCode, 414);
      assert.equal(long.json().error.code, 'SEEDCORE_INVALID_INPUT');
      // A name of the names' own limit (200) is a parameter like any other: 404, not 414.
      const named = await s.app.inject(`/api/schedules/${'n'.repeat(200)}`);
      assert.equal(named.statusCode, 404);
      assert.equal(named.json().error.code, 'SEEDCORE_NOT_FOUND');
      const over = await s.app.inject(`/api/schedules/${'n'.repeat(201)}`);
      assert.equal(over.statusCode, 400);
      assert.equal(over.json().error.details.path, 'name');
    });

    it('rejects id prefixes that are not hex digits with dashes in their places', async () => {
      const task = await s.core.tasks.submit({ type: 'edge_probe' });
      assert.equal((await s.app.inject(`/api/tasks/${task.id.slice(0, 9)}`)).statusCode, 200, 'a prefix through the first dash');
      for (const bad of ['----', 'zzzz', `${task.id.slice(0, 6)}-`]) {
        const r = await s.app.inject(`/api/tasks/${bad}`);
        assert.equal(r.statusCode, 400, bad);
        assert.equal(r.json().error.details.path, 'id');
      }
    });

    it('rejects unknown query parameters, naming them', async () => {
      for (const url of ['/api/tasks?colour=red', '/api/graph-tasks?colour=red', '/api/registry/instances?colour=red']) {
        const r = await s.app.inject(url);
        assert.equal(r.statusCode, 400, url);
        assert.equal(r.json().error.details.path, 'colour', url);
        assert.equal(r.json().error.details.in, 'query');
      }
      assert.equal((await s.app.inject('/api/tasks?limit=2')).statusCode, 200, 'known parameters pass');
    });

    it('answers HEAD on the event stream with its headers', async () => {
      const r = await s.app.inject({ method: 'HEAD', url: '/api/events' });
      assert.equal(r.statusCode, 200);
      assert.match(String(r.headers['content-type']), /text\/event-stream/);
      assert.equal(r.body, '');
    });

    it('without a token, refuses a cross-origin state change and a foreign Host, and writes nothing', async () => {
      const task = await s.core.tasks.submit({ type: 'edge_probe' });
      const cross = await s.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/cancel`, headers: { origin: 'http://evil.example' } });
      assert.equal(cross.statusCode, 403);
      assert.equal(cross.json().error.code, 'SEEDCORE_FORBIDDEN');
      const site = await s.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/cancel`, headers: { 'sec-fetch-site': 'cross-site' } });
      assert.equal(site.statusCode, 403);
      assert.equal((await s.core.tasks.get(task.id)).status, 'queued', 'the refused cancels changed nothing');
      const rebound = await s.app.inject({ url: '/api/tasks', headers: { host: 'attacker.example:8080' } });
      assert.equal(rebound.statusCode, 403);
      for (const host of ['192.168.1.20:8080', '[fe80::1]:8080', 'localhost'])
        assert.equal((await s.app.inject({ url: '/api/tasks', headers: { host } })).statusCode, 200, `an address or loopback name: ${host}`);
      assert.equal(rebound.json().error.code, 'SEEDCORE_FORBIDDEN');
      // Positive controls: the same origin (and a client that sends no Origin) may.
      const same = await s.app.inject({
        method: 'POST',
        url: `/api/tasks/${task.id}/cancel`,
        headers: { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` },
      });
      assert.equal(same.statusCode, 200, same.body);
      assert.equal(same.json().status, 'cancelled');
    });

    it('with a token, leaves Host and Origin to the token; with allowedHosts, answers those names', async () => {
      const t = await testServer(kind, { apiToken: 'edge-token', allowedHosts: ['seedcore.internal'] });
      try {
        const auth = { authorization: 'Bearer edge-token', host: 'anything.example', origin: 'http://other.example' };
        assert.equal((await t.app.inject({ method: 'POST', url: '/api/tasks', headers: auth, payload: { type: 'x' } })).statusCode, 201);
      } finally {
        await t.close();
      }
      const u = await testServer(kind, { allowedHosts: ['seedcore.internal'] });
      try {
        assert.equal((await u.app.inject({ url: '/api/tasks', headers: { host: 'seedcore.internal:8080' } })).statusCode, 200);
        assert.equal((await u.app.inject({ url: '/api/tasks', headers: { host: 'other.internal' } })).statusCode, 403);
      } finally {
        await u.close();
      }
    });

    it('limits slow and numerous clients', () => {
      assert.equal(s.app.server.headersTimeout, 10_000);
      assert.equal(s.app.server.requestTimeout, 30_000);
      assert.equal(s.app.server.maxConnections, 1000);
    });
  });
}

describe('secrets in logs', () => {
  it('redacts token and password query values however the key is encoded, and URL passwords', () => {
    assert.equal(redactSecrets('/api/events?%74oken=abc&x=1'), '/api/events?%74oken=[redacted]&x=1');
    assert.equal(redactSecrets('/api/events?TOKEN=abc'), '/api/events?TOKEN=[redacted]');
    assert.equal(redactSecrets('/a?p%61ssword=abc#frag'), '/a?p%61ssword=[redacted]#frag');
    assert.equal(
      redactSecrets('postgres://u:pw@db:5432/x?password=y&sslmode=require'),
      'postgres://u:[redacted]@db:5432/x?password=[redacted]&sslmode=require',
    );
    assert.equal(redactSecrets('/api/tasks?type=token'), '/api/tasks?type=token', 'only secret keys, not values that look like one');
  });

  it('logs one line per request at debug by default, at info with logRequests', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    for (const logRequests of [false, true]) {
      lines.length = 0;
      const s = await testServer('pglite', { logger: { level: 'info', stream }, logRequests });
      try {
        await s.app.inject('/api/tasks?limit=1');
        await s.app.inject('/api/tasks?limit=0');
      } finally {
        await s.close();
      }
      s.app.log.info({ database: 'postgres://u:hunter2@db:5432/x?password=hunter2' }, 'database');
      const requestLines = lines.filter((l) => l.includes('"url":"/api/tasks'));
      assert.doesNotMatch(lines.join(''), /hunter2/, 'database URLs are logged without passwords');
      assert.match(lines.join(''), /postgres:\/\/u:\[redacted\]@db:5432\/x\?password=\[redacted\]/);
      assert.equal(requestLines.length, logRequests ? 2 : 0, `logRequests=${logRequests}: ${requestLines.join('')}`);
    }
  });
});

describe('built-in handlers', () => {
  it('sleep stops at once when its signal fires, and refuses a sleep setTimeout cannot time', async () => {
    const handlers = builtinHandlers(undefined as never);
    const controller = new AbortController();
    const task = { params: { ms: 600_000 } } as unknown as TaskRecord;
    const started = Date.now();
    const sleeping = handlers.sleep?.(task, { signal: controller.signal } as unknown as TaskContext);
    // The cancel arrives while the handler sleeps (20 ms into its 600 s).
    setTimeout(() => controller.abort(new Error('cancelled')), 20);
    await assert.rejects(Promise.resolve(sleeping), /cancelled/);
    assert.ok(Date.now() - started < 5000, 'stopped long before 600 s');
    await assert.rejects(Promise.resolve(handlers.sleep?.(task, { signal: AbortSignal.abort(new Error('already')) } as unknown as TaskContext)), /already/);
    const over = { params: { ms: 2 ** 32 } } as unknown as TaskRecord;
    await assert.rejects(Promise.resolve(handlers.sleep?.(over, { signal: new AbortController().signal } as unknown as TaskContext)), /params\.ms/);
    // Positive control: a short sleep completes.
    assert.deepEqual(
      await handlers.sleep?.({ params: { ms: 5 } } as unknown as TaskRecord, { signal: new AbortController().signal } as unknown as TaskContext),
      { slept: 5 },
    );
  });
});
