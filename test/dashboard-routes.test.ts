/**
 * The dashboard's read-only routes on both backends: the activity series (from task_runs),
 * the filtered task list with keyset paging, a task's links (dependencies, graph edges, runs),
 * graph node search, and in-flight tasks per owner. A real dispatcher runs the tasks.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadDemoData } from '../src/demo/load.js';
import { Dispatcher, type DispatcherEvent } from '../src/tasks/index.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

interface Item {
  id: string;
  type: string;
  status: string;
  queue: string;
  priority: string;
  agent: string | null;
  organ: string | null;
}
interface Page {
  items: Item[];
  nextCursor: string | null;
}

for (const kind of BACKENDS) {
  describe(`dashboard routes (${kind})`, () => {
    let s: TestServer;
    const get = async <T>(url: string): Promise<T> => {
      const r = await s.app.inject(url);
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      return r.json() as T;
    };

    before(async () => {
      s = await testServer(kind);
      await loadDemoData(s.core.db);
    });
    after(async () => s.close());

    it('lists tasks filtered by queue, priority, agent, organ, id prefix and waiting, with keyset paging', async () => {
      const mail = await s.core.tasks.submitMany(
        Array.from({ length: 7 }, (_, i) => ({ type: 'mail_probe', queue: 'mail', priority: i === 0 ? ('high' as const) : ('normal' as const) })),
      );
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Page = await get<Page>(`/api/overview/tasks?queue=mail&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        assert.ok(page.items.length <= 3);
        assert.ok(page.items.every((t) => t.queue === 'mail' && t.type === 'mail_probe'));
        seen.push(...page.items.map((t) => t.id));
        cursor = page.nextCursor;
      } while (cursor);
      assert.deepEqual(new Set(seen), new Set(mail.map((t) => t.id)), 'every page once, nothing twice');
      assert.equal(seen.length, 7);

      const high = await get<Page>('/api/overview/tasks?queue=mail&priority=high');
      assert.deepEqual(
        high.items.map((t) => t.id),
        [mail[0]?.id],
      );
      const planner = await get<Page>('/api/overview/tasks?agent=planner');
      assert.deepEqual(
        planner.items.map((t) => [t.type, t.agent, t.organ]),
        [['graph_rag_query', 'planner', 'cognitive_organ_1']],
      );
      const organ = await get<Page>('/api/overview/tasks?organ=retrieval_organ_1');
      assert.deepEqual(
        organ.items.map((t) => t.type),
        ['graph_embed'],
      );
      const prefix = (mail[3]?.id as string).slice(0, 8);
      const byPrefix = await get<Page>(`/api/overview/tasks?idPrefix=${prefix}`);
      assert.ok(byPrefix.items.some((t) => t.id === mail[3]?.id));
      assert.ok(byPrefix.items.every((t) => t.id.startsWith(prefix)));
      const waiting = await get<Page>('/api/overview/tasks?waiting=true');
      assert.deepEqual(
        waiting.items.map((t) => t.status),
        ['created'],
        'the demo RAG task waits for its dependency',
      );
      const none = await get<Page>('/api/overview/tasks?queue=no_such_queue');
      assert.deepEqual(none, { items: [], nextCursor: null });

      for (const bad of ['priority=urgent', 'cursor=bm9wZQ', 'idPrefix=zz%25', 'status=done']) {
        const r = await s.app.inject(`/api/overview/tasks?${bad}`);
        assert.equal(r.statusCode, 400, bad);
        assert.equal(r.json().error.code, 'SEEDCORE_INVALID_INPUT', bad);
      }
    });

    it('gives a task’s dependencies and graph edges, and finds graph nodes by name or id', async () => {
      const rag = (await get<Page>('/api/overview/tasks?type=graph_rag_query')).items[0] as Item;
      const links = await get<{
        node_id: number | null;
        dependsOn: Array<{ type: string }>;
        dependents: unknown[];
        edges: Array<{ edge_type: string; ext_id: string; node_id: number | null }>;
      }>(`/api/overview/tasks/${rag.id}/links`);
      assert.deepEqual(
        links.dependsOn.map((d) => d.type),
        ['graph_embed'],
      );
      assert.deepEqual(links.dependents, []);
      assert.deepEqual(
        links.edges.map((e) => [e.edge_type, e.ext_id]),
        [
          ['task__executed_by__organ', 'cognitive_organ_1'],
          ['task__owned_by__agent', 'planner'],
        ],
      );
      assert.ok(links.edges.every((e) => typeof e.node_id === 'number'));
      const bad = await s.app.inject('/api/overview/tasks/not-a-uuid/links');
      assert.equal(bad.statusCode, 400);

      const found = await get<{ items: Array<{ node_id: number; node_type: string; ext_id: string; label: string | null }> }>(
        '/api/overview/graph/find?q=Plan',
      );
      assert.deepEqual(
        found.items.map((n) => [n.node_type, n.ext_id]),
        [
          ['agent', 'planner'],
          ['skill', 'plan-route'],
        ],
      );
      assert.equal(found.items[0]?.label, 'Planner');
      const agentsOnly = await get<{ items: Array<{ node_type: string }> }>('/api/overview/graph/find?q=plan&type=agent');
      assert.deepEqual(
        agentsOnly.items.map((n) => n.node_type),
        ['agent'],
      );
      const byId = await get<{ items: Array<{ node_id: number }> }>(`/api/overview/graph/find?q=${found.items[0]?.node_id}`);
      assert.equal(byId.items[0]?.node_id, found.items[0]?.node_id);
      assert.deepEqual(await get('/api/overview/graph/find?q=zzz_nothing'), { items: [] });
    });

    it('counts executions per bucket from task runs, with pickup latency, and shows in-flight tasks per owner', { timeout: 30_000 }, async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const events: DispatcherEvent[] = [];
      let notify: () => void = () => undefined;
      const d = new Dispatcher(s.core.db, {
        ownerId: 'dash-worker-1',
        handlers: {
          ok_probe: async () => ({ ok: true }),
          boom_probe: async () => {
            throw new Error('boom');
          },
          held_probe: async () => {
            await gate;
            return 1;
          },
        },
        types: ['ok_probe', 'boom_probe', 'held_probe'],
        maxAttempts: 1,
        pollIntervalMs: 50,
        onEvent: (e) => {
          events.push(e);
          notify();
        },
      });
      const until = (pred: () => boolean) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('dispatcher events did not arrive')), 20_000);
          notify = () => {
            if (pred()) {
              clearTimeout(timer);
              resolve();
            }
          };
          notify();
        });
      const [ok1, ok2, boom, held] = await s.core.tasks.submitMany([
        { type: 'ok_probe' },
        { type: 'ok_probe' },
        { type: 'boom_probe' },
        { type: 'held_probe' },
      ]);
      await d.start();
      try {
        await until(
          () =>
            events.filter((e) => e.kind === 'completed' && (e.id === ok1?.id || e.id === ok2?.id)).length === 2 &&
            events.some((e) => e.kind === 'failed' && e.id === boom?.id) &&
            events.some((e) => e.kind === 'started' && e.task.id === held?.id),
        );
        const series = await get<{ source: string; bucketSeconds: number; buckets: Array<Record<string, number | null>> }>(
          '/api/overview/series?minutes=15&buckets=15',
        );
        assert.equal(series.buckets.length, 15);
        assert.equal(series.bucketSeconds, 60);
        assert.equal(series.source, 'runs');
        const sum = (k: string) => series.buckets.reduce((a, b) => a + Number(b[k] ?? 0), 0);
        assert.equal(sum('completed'), 2);
        assert.equal(sum('failed'), 1);
        assert.ok(sum('created') >= 4);
        const pickups = series.buckets.map((b) => b.pickup_avg_ms).filter((v): v is number => v !== null);
        assert.ok(pickups.length > 0 && pickups.every((v) => v >= 0), 'pickup latency of first attempts');

        const flight = await get<{ items: Array<{ owner: string; running: number }> }>('/api/overview/in-flight');
        assert.deepEqual(
          flight.items.map((f) => [f.owner, f.running]),
          [['dash-worker-1', 1]],
        );

        const links = await get<{ runs: Array<{ outcome: string; attempt: number; error: string | null }> }>(`/api/overview/tasks/${boom?.id}/links`);
        assert.deepEqual(
          links.runs.map((r) => [r.outcome, r.attempt]),
          [['failed', 1]],
        );
        assert.match(links.runs[0]?.error ?? '', /boom/);
      } finally {
        release();
        await d.stop();
      }
      const after = await get<{ items: unknown[] }>('/api/overview/in-flight');
      assert.deepEqual(after.items, []);
      const bad = await s.app.inject('/api/overview/series?minutes=2');
      assert.equal(bad.statusCode, 400);
    });
  });
}
