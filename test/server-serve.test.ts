/**
 * The real `seedcore serve` process: first run loads demo data whose tasks the in-process
 * dispatcher completes; SIGTERM exits 0 within 10 s; a restart keeps the data and does not
 * load the demo twice. On both backends (embedded data directory, PostgreSQL server).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { openEventStream } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'seedcore.js');

interface Served {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  kill(signal: NodeJS.Signals): number;
}

function serve(dbArgs: string[], env: NodeJS.ProcessEnv): Promise<Served> {
  const child = spawn(process.execPath, [BIN, ...dbArgs, 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let killedAt = 0;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - killedAt })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not print its URL in 30 s; stderr: ${stderr}`)), 30_000);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let first = true;
    lines.on('line', (line) => {
      if (!first) return;
      first = false;
      clearTimeout(timer);
      const m = /^SeedCore listening on (http:\/\/\S+)$/.exec(line);
      if (!m) reject(new Error(`first stdout line is not the URL: ${line}`));
      else
        resolve({
          child,
          url: m[1] as string,
          exited,
          kill(signal) {
            killedAt = Date.now();
            child.kill(signal);
            return killedAt;
          },
        });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited early (${code}); stderr: ${stderr}`));
    });
  });
}

async function json<T = Record<string, unknown>>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url} → ${r.status}`);
  return (await r.json()) as T;
}

/** A serve process's routes can fail while it starts or loads the demo: keep asking. */
const SERVE_WAIT = { timeoutMs: 30_000, everyMs: 200, retryErrors: true };

for (const kind of BACKENDS) {
  describe(`seedcore serve process (${kind})`, () => {
    let t: TestDb | undefined;
    let dataDir: string | undefined;
    const children: Served[] = [];
    after(async () => {
      for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      if (t) await t.cleanup();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('serves demo data whose tasks complete, stops on SIGTERM, and keeps data across a restart', { timeout: 90_000 }, async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
      delete env.SEEDCORE_API_TOKEN;
      let dbArgs: string[];
      if (kind === 'pglite') {
        delete env.DATABASE_URL;
        dataDir = mkdtempSync(join(tmpdir(), 'seedcore-serve-'));
        dbArgs = ['--data-dir', dataDir];
      } else {
        t = await freshDb('postgres', { poolSize: 1 });
        dbArgs = ['--database-url', t.url as string];
      }

      const first = await serve(dbArgs, env);
      children.push(first);
      assert.deepEqual(await json(`${first.url}/readyz`), { status: 'ready', backend: kind });
      // The demo's graph tasks are run by the in-process dispatcher.
      const graphTasks = await waitFor(
        'demo graph tasks to complete',
        async () => {
          const page = await json<{ items: Array<{ type: string; status: string; status_emoji: string }> }>(`${first.url}/api/graph-tasks`);
          return page.items.length === 2 && page.items.every((x) => x.status === 'completed') ? page.items : undefined;
        },
        SERVE_WAIT,
      );
      assert.ok(graphTasks.every((x) => x.status_emoji === '✅'));
      // The RAG question waited for the embedding, seeded from facts by text and cites them.
      const rag = await json<{ items: Array<{ result: { facts: Array<{ snippet: string }>; seed_count: number } }> }>(
        `${first.url}/api/tasks?type=graph_rag_query`,
      );
      const answer = rag.items[0]?.result;
      assert.ok(answer && answer.seed_count >= 1 && answer.facts.length >= 1, JSON.stringify(answer).slice(0, 300));
      assert.ok(answer.facts.some((f) => f.snippet.includes('<b>')));
      const overview = await waitFor(
        'all demo tasks to complete',
        async () => {
          const o = await json<{ counts: Record<string, number>; total: number; instancesAlive: number }>(`${first.url}/api/overview`);
          return o.counts.completed === o.total ? o : undefined;
        },
        SERVE_WAIT,
      );
      assert.ok(overview.total >= 4);
      assert.equal(overview.instancesAlive, 1, 'serve registered itself');
      const live = await json<{ items: Array<{ serve_route: string }> }>(`${first.url}/api/registry/instances`);
      assert.equal(live.items[0]?.serve_route, first.url);
      const stats = await json<{ nodes: Record<string, number>; embeddings: number }>(`${first.url}/api/graph/stats`);
      assert.equal(stats.nodes.agent, 3);
      assert.ok(stats.embeddings > 0, 'graph_embed stored embeddings');

      // A dashboard's event stream stays open during shutdown; it must not hold the exit up.
      const stream = await openEventStream(`${first.url}/api/events`);
      assert.equal(JSON.parse((await stream.next()).data).reason, 'hello');
      first.kill('SIGTERM');
      const stopped = await first.exited;
      assert.equal(stopped.code, 0);
      assert.ok(stopped.ms < 10_000, `stopped in ${stopped.ms} ms`);
      stream.close();

      const second = await serve(dbArgs, env);
      children.push(second);
      const again = await json<{ total: number; counts: Record<string, number> }>(`${second.url}/api/overview`);
      assert.equal(again.total, overview.total, 'data survived and the demo was not loaded twice');
      // serve prints its URL before its background work registers: wait for the second instance.
      const all = await waitFor(
        'the second instance to register',
        async () => {
          const r = await json<{ items: Array<{ status: string }> }>(`${second.url}/api/registry/instances?all=true`);
          return r.items.some((i) => i.status === 'alive') ? r : undefined;
        },
        SERVE_WAIT,
      );
      assert.deepEqual(all.items.map((i) => i.status).sort(), ['alive', 'dead'], 'the first instance deregistered (dead)');
      second.kill('SIGTERM');
      assert.equal((await second.exited).code, 0);
    });
  });
}
