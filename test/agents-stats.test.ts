import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AGENT_METRICS_MAX_KEYS, agentStats, type AgentStat } from '../src/agents/stats.js';
import { PGliteDb, type Db } from '../src/db/index.js';
import { isSeedCoreError } from '../src/errors.js';
import { migrate } from '../src/migrate/runner.js';
import { openSeedCore, type SeedCore } from '../src/seedcore.js';
import { buildServer, type SeedCoreServer } from '../src/server/app.js';
import { createMetrics } from '../src/server/metrics.js';
import { TaskCoordinator } from '../src/tasks/coordinator.js';
import { createWorker } from '../src/worker/compose.js';
import { runCli } from './helpers/cli.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { startDispatcher, taskRow, waitFor } from './helpers/tasks.js';

const INSTANCE = randomUUID();

/**
 * Known executions. organ-a runs on a registered instance whose logical id is the organ;
 * organ-b only through task_executed_by_organ (its worker is not registered). T1, T2 belong to
 * agent-x; T3–T5 have no agent, so organ-a's agent (agent-a) counts them. T1 and T3 use
 * summarize, T1 also embed. T6 ran twice (retry 5 s, then completed 1 s). One run ended before
 * the window and one suspension are not counted.
 */
async function seed(db: Db): Promise<Record<string, string>> {
  const tasks = new TaskCoordinator(db);
  const ids: Record<string, string> = {};
  for (const [name, agentId] of [
    ['T1', 'agent-x'],
    ['T2', 'agent-x'],
    ['T3', undefined],
    ['T4', undefined],
    ['T5', undefined],
    ['T6', undefined],
    ['OLD', 'agent-x'],
  ] as const)
    ids[name] = (await tasks.submit({ type: 'stats-work', ...(agentId ? { agentId } : {}) })).id;
  await db.query("INSERT INTO agent_registry (agent_id) VALUES ('agent-a') ON CONFLICT DO NOTHING");
  await db.query("INSERT INTO organ_registry (organ_id, agent_id) VALUES ('organ-a', 'agent-a'), ('organ-b', NULL) ON CONFLICT DO NOTHING");
  await db.query("INSERT INTO registry_instance (instance_id, logical_id, cluster_epoch, status) VALUES ($1, 'organ-a', gen_random_uuid(), 'alive')", [
    INSTANCE,
  ]);
  await db.query("INSERT INTO task_executed_by_organ (task_id, organ_id) VALUES ($1, 'organ-b')", [ids.T6]);
  await db.query("INSERT INTO capability (name) VALUES ('summarize'), ('embed') ON CONFLICT DO NOTHING");
  await db.query(
    `INSERT INTO task_uses_capability (task_id, capability_id)
     SELECT t, c.capability_id FROM (VALUES ($1::uuid, 'summarize'), ($1::uuid, 'embed'), ($2::uuid, 'summarize')) v(t, n) JOIN capability c ON c.name = v.n`,
    [ids.T1, ids.T3],
  );
  const runs: Array<[string, string, number, string, number]> = [
    // task, owner, attempt, outcome, duration (s); all end a minute ago unless said otherwise
    [ids.T1 as string, INSTANCE, 1, 'completed', 1],
    [ids.T2 as string, INSTANCE, 1, 'completed', 2],
    [ids.T3 as string, INSTANCE, 1, 'completed', 3],
    [ids.T4 as string, INSTANCE, 1, 'completed', 4],
    [ids.T5 as string, INSTANCE, 1, 'failed', 10],
    [ids.T6 as string, 'plain-worker', 1, 'retry', 5],
    [ids.T6 as string, 'plain-worker', 2, 'completed', 1],
    [ids.T4 as string, INSTANCE, 1, 'suspended', 50],
  ];
  for (const [task, owner, attempt, outcome, seconds] of runs)
    await db.query(
      `INSERT INTO task_runs (task_id, type, attempt, owner_id, started_at, ended_at, outcome)
       VALUES ($1, 'stats-work', $2, $3, now() - interval '1 minute' - make_interval(secs => $4), now() - interval '1 minute', $5)`,
      [task, attempt, owner, seconds, outcome],
    );
  await db.query(
    `INSERT INTO task_runs (task_id, type, attempt, owner_id, started_at, ended_at, outcome)
     VALUES ($1, 'stats-work', 1, $2, now() - interval '3 hours', now() - interval '2 hours', 'completed')`,
    [ids.OLD, INSTANCE],
  );
  return ids;
}

type Row = Pick<AgentStat, 'runs' | 'completed' | 'failed' | 'retried' | 'failureRate' | 'p50Seconds' | 'p95Seconds'>;
const row = (runs: number, completed: number, failed: number, retried: number, failureRate: number, p50: number, p95: number): Row => ({
  runs,
  completed,
  failed,
  retried,
  failureRate,
  p50Seconds: p50,
  p95Seconds: p95,
});

/** What seed() must produce for a 1 h window (percentile_cont: linear interpolation). */
const EXPECTED: Record<string, Row> = {
  'organ organ-a': row(5, 4, 1, 0, 0.2, 3, 8.8),
  'organ organ-b': row(2, 1, 0, 1, 0.5, 3, 4.8),
  'agent agent-a': row(3, 2, 1, 0, 1 / 3, 4, 9.4),
  'agent agent-x': row(2, 2, 0, 0, 0, 1.5, 1.95),
  'agent null': row(2, 1, 0, 1, 0.5, 3, 4.8),
  'capability summarize': row(2, 2, 0, 0, 0, 2, 2.9),
  'capability embed': row(1, 1, 0, 0, 0, 1, 1),
  'capability null': row(5, 3, 1, 1, 0.4, 4, 9),
};

function byKey(items: AgentStat[]): Record<string, Row> {
  const out: Record<string, Row> = {};
  for (const s of items) {
    const { runs, completed, failed, retried, failureRate, p50Seconds, p95Seconds } = s;
    out[`${s.dimension} ${s.other ? '(other)' : String(s.key)}`] = {
      runs,
      completed,
      failed,
      retried,
      failureRate: failureRate === null ? null : Math.round(failureRate * 1e4) / 1e4,
      p50Seconds: p50Seconds === null ? null : Math.round(p50Seconds * 1e3) / 1e3,
      p95Seconds: p95Seconds === null ? null : Math.round(p95Seconds * 1e3) / 1e3,
    } as Row;
  }
  return out;
}

const rounded = (e: Record<string, Row>): Record<string, Row> =>
  Object.fromEntries(
    Object.entries(e).map(([k, r]) => [
      k,
      {
        ...r,
        failureRate: Math.round((r.failureRate as number) * 1e4) / 1e4,
        p50Seconds: r.p50Seconds,
        p95Seconds: Math.round((r.p95Seconds as number) * 1e3) / 1e3,
      },
    ]),
  );

for (const kind of BACKENDS) {
  describe(`agent performance (${kind})`, () => {
    let t: TestDb;
    let core: SeedCore;
    let server: SeedCoreServer;
    before(async () => {
      t = await freshDb(kind);
      await seed(t.db);
      core = await openSeedCore({ db: t.db, migrate: false });
      server = await buildServer({ core, apiToken: '' });
    });
    after(async () => {
      await server.app.close();
      await core.close();
      await t.cleanup();
    });

    it('per organ, agent and capability: runs, outcomes, failure rate, p50/p95 from the run history', async () => {
      const stats = await agentStats(t.db, { window: '1h' });
      assert.equal(stats.source, 'task_runs');
      assert.equal(stats.windowSeconds, 3600);
      assert.deepEqual(byKey(stats.items), rounded(EXPECTED));
      assert.equal(
        stats.items.every((s) => !s.other),
        true,
      );
      // A window long enough to include the old run: agent-x gets it.
      const wide = byKey((await agentStats(t.db, { window: '1d', dimensions: ['agent'] })).items);
      assert.equal(wide['agent agent-x']?.runs, 3);
      assert.deepEqual(Object.keys(wide).sort(), ['agent agent-a', 'agent agent-x', 'agent null']);
    });

    it('keys bounds the rows per dimension (the rest folded into one other row); bad input is SEEDCORE_INVALID_INPUT', async () => {
      const one = (await agentStats(t.db, { window: '1h', dimensions: ['organ'], keys: 1 })).items;
      assert.deepEqual(
        one.map((s) => [s.key, s.other, s.runs, s.p50Seconds]),
        [
          ['organ-a', false, 5, 3],
          [null, true, 2, 3],
        ],
      );
      for (const bad of [{ window: 'soon' }, { window: '0s' }, { window: '400d' }, { keys: 0 }, { dimensions: ['team'] as unknown as ['organ'] }])
        await assert.rejects(agentStats(t.db, bad), (e: unknown) => isSeedCoreError(e, 'SEEDCORE_INVALID_INPUT'));
    });

    it('falls back to the tasks table when the run history has nothing in the window (durations submit-to-end)', async () => {
      const tasks = new TaskCoordinator(t.db);
      const done = await tasks.submit({ type: 'stats-tasks', agentId: 'agent-tbl' });
      const failed = await tasks.submit({ type: 'stats-tasks', agentId: 'agent-tbl' });
      await t.db.query(
        `UPDATE tasks SET status = (CASE WHEN id = $1 THEN 'completed' ELSE 'failed' END)::taskstatus,
                created_at = now() - interval '20 seconds', updated_at = now() WHERE id IN ($1, $2)`,
        [done.id, failed.id],
      );
      // The seeded runs ended a minute ago: a 30 s window has none, so auto reads tasks.
      const stats = await agentStats(t.db, { window: '30s', dimensions: ['agent'] });
      assert.equal(stats.source, 'tasks');
      const tbl = stats.items.find((s) => s.key === 'agent-tbl');
      assert.equal(tbl?.runs, 2);
      assert.equal(tbl?.completed, 1);
      assert.equal(tbl?.failed, 1);
      assert.equal(tbl?.failureRate, 0.5);
      assert.ok(Math.abs((tbl?.p50Seconds ?? 0) - 20) < 5, String(tbl?.p50Seconds));
      // Positive control: the run history answers when asked for explicitly (and has none there).
      const runs = await agentStats(t.db, { window: '30s', dimensions: ['agent'], source: 'task_runs' });
      assert.equal(runs.source, 'task_runs');
      assert.equal(
        runs.items.find((s) => s.key === 'agent-tbl'),
        undefined,
      );
    });

    it('GET /api/agents/stats answers what the library does; bad window is 400', async () => {
      const res = await server.app.inject({ method: 'GET', url: '/api/agents/stats?window=1h' });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<{ source: string; items: AgentStat[]; nextCursor: null }>();
      assert.equal(body.source, 'task_runs');
      assert.equal(body.nextCursor, null);
      assert.deepEqual(byKey(body.items), rounded(EXPECTED));
      const organs = await server.app.inject({ method: 'GET', url: '/api/agents/stats?window=1h&dimension=organ&keys=1' });
      assert.deepEqual(
        organs.json<{ items: AgentStat[] }>().items.map((s) => [s.key, s.other]),
        [
          ['organ-a', false],
          [null, true],
        ],
      );
      const bad = await server.app.inject({ method: 'GET', url: '/api/agents/stats?window=soon' });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json<{ error: { code: string } }>().error.code, 'SEEDCORE_INVALID_INPUT');
    });

    it('Prometheus gauges per dimension and key, at most AGENT_METRICS_MAX_KEYS keys per dimension (+ _other, _none)', async () => {
      const scrape = async (): Promise<string> => (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
      let text = await scrape();
      assert.match(text, /seedcore_agent_runs_recent\{dimension="organ",key="organ-a",outcome="completed"\} 4\n/);
      assert.match(text, /seedcore_agent_runs_recent\{dimension="organ",key="organ-a",outcome="failed"\} 1\n/);
      assert.match(text, /seedcore_agent_run_duration_seconds_recent\{dimension="organ",key="organ-a",quantile="0.95"\} 8.8\n/);
      assert.match(text, /seedcore_agent_failure_ratio_recent\{dimension="agent",key="_none"\} 0.5\n/);
      assert.match(text, /seedcore_agent_runs_recent\{dimension="capability",key="summarize",outcome="completed"\} 2\n/);
      // A registry keeps its run-window snapshot for its max-age (here an hour, to be independent of timing).
      const longLived = createMetrics(t.db, { maxAgeMs: 3_600_000 });
      await longLived.registry.metrics();
      // 30 more agents with one run each: only the busiest keys get series, the rest are _other.
      const tasks = new TaskCoordinator(t.db);
      for (let i = 0; i < 30; i++) {
        const task = await tasks.submit({ type: 'stats-bulk', agentId: `bulk-${String(i).padStart(2, '0')}` });
        await t.db.query(
          `INSERT INTO task_runs (task_id, type, attempt, owner_id, started_at, ended_at, outcome)
           VALUES ($1, 'stats-bulk', 1, 'bulk-worker', now() - interval '2 minutes', now() - interval '1 minute', 'completed')`,
          [task.id],
        );
      }
      // Within the max-age a scrape reuses the snapshot: the new runs are not counted yet.
      const cached = await longLived.registry.metrics();
      const agentTotal = (t: string): number =>
        [...t.matchAll(/seedcore_agent_runs_recent\{dimension="agent",key="[^"]*",outcome="[a-z]+"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      assert.equal(agentTotal(cached), 7, 'the cached snapshot');
      assert.doesNotMatch(cached, /seedcore_task_runs_recent\{type="stats-bulk"/, 'the run gauges read the same snapshot');
      // A registry with max-age 0 queries on every scrape: the positive control.
      text = await createMetrics(t.db, { maxAgeMs: 0 }).registry.metrics();
      assert.match(text, /seedcore_task_runs_recent\{type="stats-bulk",outcome="completed"\} 30\n/);
      const agentKeys = new Set([...text.matchAll(/seedcore_agent_runs_recent\{dimension="agent",key="([^"]*)"/g)].map((m) => m[1]));
      assert.equal(agentKeys.size, AGENT_METRICS_MAX_KEYS + 1, [...agentKeys].join(','));
      assert.ok(agentKeys.has('_other'));
      assert.ok(agentKeys.has('agent-a'), 'the busiest keys keep their own series');
      const other = /seedcore_agent_runs_recent\{dimension="agent",key="_other",outcome="completed"\} (\d+)/.exec(text);
      // Folding loses no run: the agent series add up to the 7 seeded runs plus the 30 new ones.
      const total = [...text.matchAll(/seedcore_agent_runs_recent\{dimension="agent",key="[^"]*",outcome="[a-z]+"\} (\d+)/g)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
      assert.equal(total, 7 + 30);
      assert.ok(Number(other?.[1]) > 0);
    });

    it('a real dispatcher run is counted under its task agent', async () => {
      const tasks = new TaskCoordinator(t.db);
      const d = await startDispatcher(t.db, {
        handlers: {
          'stats-live': async (task) => {
            if (task.params.fail) throw new Error('boom');
            return { ok: true };
          },
        },
        ownerId: 'live-worker',
        maxAttempts: 1,
      });
      try {
        const ok = await tasks.submit({ type: 'stats-live', agentId: 'agent-live' });
        const bad = await tasks.submit({ type: 'stats-live', agentId: 'agent-live', params: { fail: true } });
        await waitFor(
          'the live tasks to end',
          async () => (await taskRow(t.db, ok.id)).status === 'completed' && (await taskRow(t.db, bad.id)).status === 'failed',
          60_000,
          50,
        );
      } finally {
        await d.stop({ graceMs: 0 });
      }
      const live = (await agentStats(t.db, { window: '10m', dimensions: ['agent'], source: 'task_runs' })).items.find((s) => s.key === 'agent-live');
      assert.equal(live?.runs, 2);
      assert.equal(live?.completed, 1);
      assert.equal(live?.failed, 1);
      assert.equal(live?.failureRate, 0.5);
      assert.ok((live?.p95Seconds ?? -1) >= 0);
    });

    it("an organ worker's executions count under its organ and the organ's agent, who also owns what they write", async () => {
      const tasks = new TaskCoordinator(t.db);
      const w = createWorker(t.db, {
        handlers: {
          'stats-organ': async (_task, ctx) => {
            const cell = await ctx.memory.put('organ', 'last-run', { ok: true });
            return { owners: cell.owners };
          },
        },
        organ: { id: 'organ-live', agentId: 'agent-organ' },
        pollIntervalMs: 50,
        leaseSeconds: 120,
        heartbeatSeconds: 5,
      });
      await w.start();
      let id: string;
      try {
        id = (await tasks.submit({ type: 'stats-organ' })).id;
        await waitFor('the organ task to complete', async () => (await taskRow(t.db, id)).status === 'completed', 60_000, 50);
      } finally {
        await w.stop({ graceMs: 0 });
      }
      assert.deepEqual((await taskRow(t.db, id)).result, { owners: ['agent-organ'] });
      const stats = await agentStats(t.db, { window: '10m', source: 'task_runs' });
      const organ = stats.items.find((s) => s.dimension === 'organ' && s.key === 'organ-live');
      const agent = stats.items.find((s) => s.dimension === 'agent' && s.key === 'agent-organ');
      assert.equal(organ?.runs, 1, JSON.stringify(stats.items));
      assert.equal(organ?.completed, 1);
      assert.equal(agent?.runs, 1);
    });
  });

  describe(`seedcore agents stats (${kind})`, () => {
    let t: TestDb | undefined;
    let target: string[];
    const dir = mkdtempSync(join(tmpdir(), 'seedcore-agents-stats-'));
    before(async () => {
      if (kind === 'postgres') {
        t = await freshDb('postgres');
        target = ['--database-url', t.url as string];
        await seed(t.db);
      } else {
        target = ['--data-dir', join(dir, 'data')];
        const db = await PGliteDb.open({ dataDir: join(dir, 'data') });
        try {
          await migrate(db);
          await seed(db);
        } finally {
          await db.close();
        }
      }
    });
    after(async () => {
      await t?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('--json prints the library answer; the table names each key; a bad window exits 2', async () => {
      const json = await runCli([...target, 'agents', 'stats', '--window', '1h', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const body = JSON.parse(json.stdout) as { source: string; items: AgentStat[] };
      assert.equal(body.source, 'task_runs');
      assert.deepEqual(byKey(body.items), rounded(EXPECTED));
      const table = await runCli([...target, 'agents', 'stats', '--dimension', 'organ']);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^organ\s+organ-a\s+5\s+4\s+1\s+0\s+20%\s+3s\s+8.8s$/m);
      assert.match(table.stdout, /^organ\s+organ-b\s+2\s+1\s+0\s+1\s+50%\s+3s\s+4.8s$/m);
      const bad = await runCli([...target, 'agents', 'stats', '--window', 'soon']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /SEEDCORE_INVALID_INPUT/);
    });
  });
}
