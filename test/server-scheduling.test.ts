import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

const json = { 'content-type': 'application/json' };

for (const kind of BACKENDS) {
  describe(`server: queues and schedules (${kind})`, () => {
    let s: TestServer;
    let base: string;
    before(async () => {
      s = await testServer(kind);
      base = await s.app.listen({ port: 0, host: '127.0.0.1' });
    });
    after(async () => s.close());

    it('lists queues with waiting counts and sets, pauses and removes a limit over real HTTP', async () => {
      assert.deepEqual(await (await fetch(`${base}/api/queues`)).json(), { items: [], nextCursor: null });
      for (let i = 0; i < 3; i++) await s.core.tasks.submit({ type: 'mail', queue: 'email' });
      const put = async (body: unknown) => fetch(`${base}/api/queues/email/limit`, { method: 'PUT', headers: json, body: JSON.stringify(body) });
      let r = await put({ max_running: 2 });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { queue: 'email', max_running: 2, running: 0, waiting: 3 });
      r = await put({ max_running: 0 });
      assert.equal(((await r.json()) as { max_running: number }).max_running, 0);
      const { rows } = await s.core.db.query<{ max_running: number }>("SELECT max_running FROM queue_limits WHERE queue = 'email'");
      assert.equal(rows[0]?.max_running, 0);
      r = await put({ max_running: null });
      assert.deepEqual(await r.json(), { queue: 'email', max_running: null, running: 0, waiting: 3 });
      r = await put({ max_running: null });
      assert.equal(r.status, 404);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'SEEDCORE_NOT_FOUND');
    });

    it('rejects bad limits with 400 and writes nothing', async () => {
      for (const body of [{ max_running: -1 }, { max_running: 'two' }, { max_running: 1.5 }, { max_running: 1, extra: true }, {}]) {
        const r = await s.app.inject({ method: 'PUT', url: '/api/queues/bulk/limit', headers: json, payload: JSON.stringify(body) });
        assert.equal(r.statusCode, 400, JSON.stringify(body));
        assert.equal(r.json().error.code, 'SEEDCORE_INVALID_INPUT');
      }
      const { rows } = await s.core.db.query<{ n: number }>("SELECT count(*)::int AS n FROM queue_limits WHERE queue = 'bulk'");
      assert.equal(rows[0]?.n, 0);
    });

    it('creates, reads, disables and deletes a schedule; its next slot is in its time zone', async () => {
      const r = await s.app.inject({
        method: 'PUT',
        url: '/api/schedules/nightly',
        headers: json,
        payload: JSON.stringify({ cron: '0 3 * * *', timezone: 'Europe/Paris', type: 'report', params: { scope: 'all' }, priority: 'high' }),
      });
      assert.equal(r.statusCode, 200, r.body);
      const created = r.json();
      assert.equal(created.name, 'nightly');
      assert.equal(created.enabled, true);
      assert.equal(created.priority, 'high');
      assert.deepEqual(created.params, { scope: 'all' });
      const next = new Date(created.next_slot);
      assert.ok(next.getTime() > Date.now());
      const paris = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(next);
      assert.equal(paris, '03:00');

      assert.deepEqual(
        (await s.app.inject('/api/schedules')).json().items.map((x: { name: string }) => x.name),
        ['nightly'],
      );
      assert.equal((await s.app.inject('/api/schedules/nightly')).json().cron, '0 3 * * *');

      const off = await s.app.inject({ method: 'PATCH', url: '/api/schedules/nightly', headers: json, payload: '{"enabled":false}' });
      assert.equal(off.json().enabled, false);
      assert.equal(off.json().next_slot, null);

      assert.equal((await s.app.inject({ method: 'DELETE', url: '/api/schedules/nightly' })).statusCode, 204);
      const gone = await s.app.inject({ method: 'DELETE', url: '/api/schedules/nightly' });
      assert.equal(gone.statusCode, 404);
      assert.equal(gone.json().error.code, 'SEEDCORE_NOT_FOUND');
      assert.equal((await s.app.inject('/api/schedules/nightly')).statusCode, 404);
    });

    it('rejects a bad cron, time zone, priority or field with 400 and writes nothing', async () => {
      const bad = [
        { cron: '61 * * * *', type: 't' },
        { cron: '0 3 * * *', type: 't', timezone: 'Mars/Olympus' },
        { cron: '0 3 * * *', type: 't', priority: 'urgent' },
        { cron: '0 3 * * *', type: 't', colour: 'red' },
        { cron: '0 3 * * *' },
      ];
      for (const body of bad) {
        const r = await s.app.inject({ method: 'PUT', url: '/api/schedules/broken', headers: json, payload: JSON.stringify(body) });
        assert.equal(r.statusCode, 400, `${JSON.stringify(body)} → ${r.body}`);
        assert.equal(r.json().error.code, 'SEEDCORE_INVALID_INPUT');
      }
      const { rows } = await s.core.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_schedules');
      assert.equal(rows[0]?.n, 0);
    });

    it('documents the routes in OpenAPI', async () => {
      const doc = (await s.app.inject('/openapi.json')).json();
      for (const path of ['/api/queues', '/api/queues/{queue}/limit', '/api/schedules', '/api/schedules/{name}']) assert.ok(doc.paths[path], path);
      assert.ok(doc.paths['/api/schedules/{name}'].put.requestBody);
    });
  });
}
