/**
 * serve's in-process background work: the dispatcher runs submitted tasks under the
 * registry instance of this process, and its events feed the Prometheus counters.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBackground, type Background } from '../src/server/background.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const until = <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => waitFor(what, fn, 15_000, 100);

function metric(text: string, line: string): number {
  const row = text.split('\n').find((l) => l.startsWith(`${line} `));
  return row === undefined ? NaN : Number(row.slice(line.length + 1));
}

for (const kind of BACKENDS) {
  describe(`serve background work (${kind})`, () => {
    let s: TestServer;
    let bg: Background;
    before(async () => {
      s = await testServer(kind);
      bg = await startBackground(s.core, s.metrics, 'http://test.invalid', s.app.log, { graceMs: 1000 });
    });
    after(async () => {
      await bg?.stop();
      await s?.close();
    });

    it('runs submitted tasks as its registry instance and counts them in the metrics', { timeout: 30_000 }, async () => {
      assert.deepEqual(bg.features, ['registry', 'dispatcher']);
      const active = (await s.app.inject('/api/registry/active/seedcore-serve')).json();
      assert.equal(active.instance_id, bg.instanceId);

      const ok = (await s.app.inject({ method: 'POST', url: '/api/tasks', payload: { type: 'echo', params: { hi: 1 } } })).json();
      const done = await until('the echo task to complete', async () => {
        const t = (await s.app.inject(`/api/tasks/${ok.id}`)).json();
        return t.status === 'completed' ? t : undefined;
      });
      assert.deepEqual(done.result, { hi: 1 });

      // While it runs, a task is leased to this process's registry instance.
      const slow = (await s.app.inject({ method: 'POST', url: '/api/tasks', payload: { type: 'sleep', params: { ms: 1500 } } })).json();
      const running = await until('the sleep task to run', async () => {
        const t = (await s.app.inject(`/api/tasks/${slow.id}`)).json();
        return t.status === 'running' ? t : undefined;
      });
      assert.equal(running.owner_id, bg.instanceId);
      assert.ok(running.lease_expires_at);
      await until('the sleep task to complete', async () => ((await s.app.inject(`/api/tasks/${slow.id}`)).json().status === 'completed' ? true : undefined));

      const text = (await s.app.inject('/metrics')).body;
      assert.ok(metric(text, 'seedcore_task_claims_total') >= 1);
      assert.equal(metric(text, 'seedcore_task_completions_total{type="echo",outcome="completed"}'), 1);
      assert.equal(metric(text, 'seedcore_task_handler_duration_seconds_count{type="echo",outcome="completed"}'), 1);
      assert.equal(metric(text, 'seedcore_instances_alive'), 1);
      assert.equal(metric(text, 'seedcore_tasks{status="completed"}'), 2);
    });

    it('stops: the dispatcher drains and the instance is dead', async () => {
      await bg.stop();
      const all = (await s.app.inject('/api/registry/instances?all=true')).json();
      assert.equal(all.items[0].status, 'dead');
      assert.equal((await s.app.inject('/api/registry/active/seedcore-serve')).statusCode, 404);
    });
  });
}
