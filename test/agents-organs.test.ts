/**
 * Workers that are organs: a worker started with an organ registers it (organ_registry, its
 * agent and agent__member_of__organ), joins the registry under the organ id as logical id,
 * and writes organ__provides__capability (with versions) and organ__provides__skill edges,
 * visible in hgnn_edges. A restart with a smaller offer withdraws the rest; live providers
 * are the organs with an alive instance. Bad organ options are refused before anything is
 * written, in the library and on the command line (a real process).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { liveProviders, listOrgans, parseCapabilityList, validateOrgan } from '../src/agents/organs.js';
import type { Queryable } from '../src/db/types.js';
import { openSeedCore, type SeedCore } from '../src/seedcore.js';
import { runCli } from './helpers/cli.js';
import { BACKENDS, SERVER_URL, freshDb, type TestDb } from './helpers/db.js';
import { spawnSeedcore, waitForLog } from './helpers/procs.js';
import { waitFor } from './helpers/wait.js';

const handlers = { noop: async () => ({}) };

/** The edges of one organ as hgnn_edges shows them: edge type → names at the other end. */
async function organEdges(db: Queryable, organId: string): Promise<Record<string, string[]>> {
  const r = await db.query<{ edge_type: string; other: string }>(
    `SELECT e.edge_type, coalesce(other.ext_text_id, c.name) AS other
       FROM hgnn_edges e
       JOIN graph_node_map o ON o.node_type = 'organ' AND o.ext_text_id = $1
       JOIN graph_node_map other ON other.node_id = CASE WHEN e.src_node_id = o.node_id THEN e.dst_node_id ELSE e.src_node_id END
       LEFT JOIN capability c ON other.node_type = 'capability' AND c.capability_id = other.ext_uuid
      WHERE o.node_id IN (e.src_node_id, e.dst_node_id)
      ORDER BY 1, 2`,
    [organId],
  );
  const out: Record<string, string[]> = {};
  for (const row of r.rows) (out[row.edge_type] ??= []).push(row.other);
  return out;
}

async function versions(db: Queryable, organId: string): Promise<Record<string, string | null>> {
  const r = await db.query<{ name: string; version: string | null }>(
    `SELECT c.name, e.version FROM organ_provides_capability e JOIN capability c ON c.capability_id = e.capability_id
      WHERE e.organ_id = $1 ORDER BY c.name`,
    [organId],
  );
  return Object.fromEntries(r.rows.map((x) => [x.name, x.version]));
}

async function count(db: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) q`, params)).rows[0]?.n);
}

describe('organ options and the capability list syntax', () => {
  it('accepts dotted-number versions and refuses anything else, naming the item', () => {
    assert.deepEqual(parseCapabilityList('summarize@2, embed@1.4.0'), [
      { name: 'summarize', version: '2' },
      { name: 'embed', version: '1.4.0' },
    ]);
    for (const bad of ['summarize', 'summarize@', '@2', 'summarize@2.x', 'sum marize@2', 'a>=b@1', ',']) {
      assert.throws(
        () => parseCapabilityList(bad),
        (e: Error & { code?: string }) => e.code === 'SEEDCORE_INVALID_INPUT' && e.message.includes('--capabilities'),
        bad,
      );
    }
    assert.throws(
      () =>
        validateOrgan({
          id: 'o',
          capabilities: [
            { name: 'a', version: '1' },
            { name: 'a', version: '2' },
          ],
        }),
      /organ\.capabilities\[1\]\.name: capability 'a' is listed twice/,
    );
    assert.throws(() => validateOrgan({ id: ' ' }), /organ\.id: expected a non-empty id/);
    assert.throws(() => validateOrgan({ id: 'o', skills: ['ok', 'not ok'] }), /organ\.skills\[1\]/);
  });
});

for (const kind of BACKENDS) {
  describe(`workers that are organs (${kind})`, () => {
    let t: TestDb;
    let core: SeedCore;
    before(async () => {
      t = await freshDb(kind);
      core = await openSeedCore({ db: t.db, migrate: false });
    });
    after(async () => {
      await core?.close();
      await t?.cleanup();
    });

    it('registers the organ, its agent, its instance under the organ id and its offer with versions', { timeout: 60_000 }, async () => {
      const w = core.createDispatcher({
        handlers,
        pollIntervalMs: 50,
        organ: {
          id: 'summarizer-1',
          agentId: 'agent-a',
          capabilities: [
            { name: 'summarize', version: '2.1' },
            { name: 'embed', version: '1' },
          ],
          skills: ['english', 'french'],
        },
      });
      assert.equal(w.instanceId, undefined, 'nothing is registered before start');
      assert.equal(await count(t.db, "SELECT 1 FROM organ_registry WHERE organ_id = 'summarizer-1'"), 0);
      await w.start();
      try {
        const inst = (
          await t.db.query<{ logical_id: string; status: string }>('SELECT logical_id, status::text AS status FROM registry_instance WHERE instance_id = $1', [
            w.ownerId,
          ])
        ).rows[0];
        assert.deepEqual(inst, { logical_id: 'summarizer-1', status: 'alive' });
        assert.equal(w.instanceId, w.ownerId);
        assert.equal((await core.registry.lookup('summarizer-1'))?.instance_id, w.ownerId);

        const organ = (await t.db.query<{ agent_id: string }>("SELECT agent_id FROM organ_registry WHERE organ_id = 'summarizer-1'")).rows[0];
        assert.equal(organ?.agent_id, 'agent-a');
        assert.equal(await count(t.db, "SELECT 1 FROM agent_registry WHERE agent_id = 'agent-a'"), 1);
        assert.deepEqual(await organEdges(t.db, 'summarizer-1'), {
          agent__member_of__organ: ['agent-a'],
          organ__provides__capability: ['embed', 'summarize'],
          organ__provides__skill: ['english', 'french'],
        });
        assert.deepEqual(await versions(t.db, 'summarizer-1'), { embed: '1', summarize: '2.1' });

        assert.deepEqual(await liveProviders(t.db, { capability: 'summarize' }), [
          { capability: 'summarize', version: '2.1', organId: 'summarizer-1', instanceId: w.ownerId },
        ]);
        const [info] = (await listOrgans(t.db, { organIds: ['summarizer-1'] })).items;
        assert.deepEqual(info, {
          organId: 'summarizer-1',
          agentId: 'agent-a',
          capabilities: [
            { name: 'embed', version: '1' },
            { name: 'summarize', version: '2.1' },
          ],
          skills: ['english', 'french'],
          instances: [w.ownerId],
        });

        // The organ's worker claims as its instance.
        const task = await core.tasks.submit({ type: 'noop', params: {} });
        const done = await waitFor(
          'the organ worker to run the task',
          async () => {
            const row = await core.tasks.get(task.id);
            return row?.status === 'completed' ? row : undefined;
          },
          20_000,
          50,
        );
        assert.equal(done.status, 'completed');
      } finally {
        await w.stop({ graceMs: 1000 });
      }
      // Stopped: the edges stay (the organ's offer), but it is no longer a live provider.
      assert.deepEqual(await liveProviders(t.db, { capability: 'summarize' }), []);
      assert.deepEqual((await listOrgans(t.db, { organIds: ['summarizer-1'] })).items[0]?.instances, []);
      assert.deepEqual(await versions(t.db, 'summarizer-1'), { embed: '1', summarize: '2.1' });
    });

    it('withdraws what a restarted organ no longer advertises and updates versions', { timeout: 60_000 }, async () => {
      const first = core.createDispatcher({
        handlers,
        organ: {
          id: 'shrinking',
          capabilities: [
            { name: 'summarize', version: '1' },
            { name: 'translate', version: '3' },
            { name: 'ocr', version: '1' },
          ],
          skills: ['a', 'b'],
        },
      });
      await first.start();
      await first.stop({ graceMs: 0 });
      assert.deepEqual(await versions(t.db, 'shrinking'), { ocr: '1', summarize: '1', translate: '3' });

      const second = core.createDispatcher({ handlers, organ: { id: 'shrinking', capabilities: [{ name: 'summarize', version: '2' }], skills: ['b'] } });
      await second.start();
      try {
        assert.deepEqual(await versions(t.db, 'shrinking'), { summarize: '2' });
        assert.deepEqual(await organEdges(t.db, 'shrinking'), { organ__provides__capability: ['summarize'], organ__provides__skill: ['b'] });
        // Another organ's edges to the same capabilities are untouched.
        assert.deepEqual(await versions(t.db, 'summarizer-1'), { embed: '1', summarize: '2.1' });
        assert.deepEqual(
          (await liveProviders(t.db)).map((p) => [p.capability, p.organId, p.version, p.instanceId === second.ownerId]),
          [['summarize', 'shrinking', '2', true]],
        );
      } finally {
        await second.stop({ graceMs: 0 });
      }
    });

    it('refuses bad organ options before anything is written', async () => {
      const before = await count(t.db, 'SELECT 1 FROM registry_instance');
      const bad = [
        { organ: { id: 'bad-1', capabilities: [{ name: 'summarize', version: 'two' }] } },
        { organ: { id: 'bad-2', capabilities: [{ name: 'a b', version: '1' }] } },
        { organ: { id: 'bad-3' }, registry: false },
        { organ: { id: 'bad-4' }, ownerId: 'me' },
        { organ: { id: 'bad-5' }, registry: { logicalId: 'other' } },
        { organ: { id: 'bad-6' }, concurrency: 0 },
      ];
      for (const extra of bad) {
        assert.throws(
          () => core.createDispatcher({ handlers, ...extra }),
          (e: Error & { code?: string }) => e.code === 'SEEDCORE_INVALID_INPUT',
          JSON.stringify(extra),
        );
      }
      assert.equal(await count(t.db, "SELECT 1 FROM organ_registry WHERE organ_id LIKE 'bad-%'"), 0);
      assert.equal(await count(t.db, 'SELECT 1 FROM registry_instance'), before);
      // Positive control: the same call with a valid version registers.
      const ok = core.createDispatcher({ handlers, organ: { id: 'bad-1', capabilities: [{ name: 'summarize', version: '2' }] } });
      await ok.start();
      await ok.stop({ graceMs: 0 });
      assert.equal(await count(t.db, "SELECT 1 FROM organ_registry WHERE organ_id = 'bad-1'"), 1);
      assert.equal(await count(t.db, 'SELECT 1 FROM registry_instance'), before + 1);
    });

    describe(`seedcore worker --organ flags (${kind}, a real process)`, () => {
      let dir: string;
      let target: string[];
      before(async () => {
        dir = mkdtempSync(join(tmpdir(), 'seedcore-organs-cli-'));
        target = kind === 'postgres' ? ['--database-url', t.url as string] : ['--data-dir', join(dir, 'data')];
      });
      after(() => rmSync(dir, { recursive: true, force: true }));

      it('refuses bad organ flags before anything is written (exit 2, SEEDCORE_INVALID_INPUT)', { timeout: 120_000 }, async () => {
        const cases: [string[], RegExp][] = [
          [['--organ', 'o-bad', '--capabilities', 'summarize'], /--capabilities: expected name@version/],
          [['--organ', 'o-bad', '--capabilities', 'summarize@2.x'], /got 'summarize@2\.x'/],
          [['--organ', 'o-bad', '--skills', 'a,b c'], /--skills: expected skill names .*got 'b c'/],
          [['--organ', 'o-bad', '--logical-id', 'other'], /--logical-id 'other' with --organ 'o-bad': an organ worker registers under its organ id/],
          [['--organ', 'o-bad', '--no-registry'], /cannot be combined with --no-registry or --owner-id/],
          [['--organ', 'o-bad', '--owner-id', 'me'], /cannot be combined with --no-registry or --owner-id/],
          [['--agent', 'a-bad'], /--agent describes an organ: give --organ <id> too/],
          [['--capabilities', 'x@1'], /--capabilities describes an organ/],
        ];
        for (const [args, message] of cases) {
          const r = await runCli([...target, 'worker', ...args]);
          assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
          assert.match(r.stderr, /SEEDCORE_INVALID_INPUT/);
          assert.match(r.stderr, message);
        }
        if (kind === 'pglite') {
          // Refused before the database is opened: the data directory is not even created.
          assert.equal(existsSync(join(dir, 'data')), false);
          assert.equal(existsSync(dir), true);
        } else {
          assert.equal(await count(t.db, "SELECT 1 FROM organ_registry WHERE organ_id = 'o-bad'"), 0);
          assert.equal(await count(t.db, "SELECT 1 FROM agent_registry WHERE agent_id = 'a-bad'"), 0);
          assert.equal(await count(t.db, "SELECT 1 FROM registry_instance WHERE logical_id = 'o-bad'"), 0);
          // Positive control: the organs the library tests registered are there.
          assert.equal(await count(t.db, "SELECT 1 FROM organ_registry WHERE organ_id = 'summarizer-1'"), 1);
        }
      });
    });
  });
}

// A worker process and the test share the database only on the server (an embedded data
// directory belongs to one process at a time).
describe('seedcore worker --organ (postgres, a real process)', { skip: SERVER_URL ? false : 'needs DATABASE_URL' }, () => {
  let t: TestDb;
  before(async () => {
    t = await freshDb('postgres', { poolSize: 2 });
  });
  after(async () => {
    await t?.cleanup();
  });

  const startOrgan = async (
    caps: string,
    skills: string,
    extra: string[] = [],
  ): Promise<{ ownerId: string; whileUp: { logical_id: string; status: string } | undefined }> => {
    const w = spawnSeedcore([
      '--database-url',
      t.url as string,
      'worker',
      '--organ',
      'cli-organ',
      '--agent',
      'cli-agent',
      '--capabilities',
      caps,
      '--skills',
      skills,
      '--poll-ms',
      '100',
      ...extra,
    ]);
    let whileUp: { logical_id: string; status: string } | undefined;
    let ownerId = '';
    try {
      await waitForLog(w, 'worker ready', 90_000);
      const ready = w
        .stderr()
        .split('\n')
        .find((l) => l.includes('"msg":"worker ready"')) as string;
      const line = JSON.parse(ready) as { ownerId: string; organ: string };
      assert.equal(line.organ, 'cli-organ');
      ownerId = line.ownerId;
      whileUp = (
        await t.db.query<{ logical_id: string; status: string }>(
          'SELECT logical_id, status::text AS status FROM registry_instance WHERE instance_id::text = $1',
          [ownerId],
        )
      ).rows[0];
      assert.deepEqual(
        (await liveProviders(t.db, { capability: 'summarize' })).map((p) => p.instanceId),
        [ownerId],
      );
    } finally {
      w.child.kill('SIGTERM');
    }
    assert.equal(await w.exited, 0, w.stderr());
    return { ownerId, whileUp };
  };

  it('registers the organ with its offer under the organ id, and a restart with less withdraws the rest', { timeout: 240_000 }, async () => {
    const first = await startOrgan('summarize@2,embed@1.4.0', 'english');
    assert.deepEqual(first.whileUp, { logical_id: 'cli-organ', status: 'alive' });
    const after1 = (await t.db.query<{ status: string }>('SELECT status::text AS status FROM registry_instance WHERE instance_id::text = $1', [first.ownerId]))
      .rows[0];
    assert.equal(after1?.status, 'dead', 'SIGTERM leaves the registry');
    assert.deepEqual(await liveProviders(t.db), []);
    assert.deepEqual(await versions(t.db, 'cli-organ'), { embed: '1.4.0', summarize: '2' });
    assert.deepEqual(await organEdges(t.db, 'cli-organ'), {
      agent__member_of__organ: ['cli-agent'],
      organ__provides__capability: ['embed', 'summarize'],
      organ__provides__skill: ['english'],
    });
    // An explicit --logical-id equal to the organ id is accepted (another one is refused above).
    const second = await startOrgan('summarize@3', 'english', ['--logical-id', 'cli-organ']);
    assert.equal(second.whileUp?.logical_id, 'cli-organ');
    assert.deepEqual(await versions(t.db, 'cli-organ'), { summarize: '3' });
    assert.deepEqual(await organEdges(t.db, 'cli-organ'), {
      agent__member_of__organ: ['cli-agent'],
      organ__provides__capability: ['summarize'],
      organ__provides__skill: ['english'],
    });
  });
});
