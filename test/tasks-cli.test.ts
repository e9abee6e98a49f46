import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';
import { BIN, ROOT, spawnSeedcore, waitForLog } from './helpers/procs.js';

const run = promisify(execFile);

/** The child environment without DATABASE_URL: the embedded case must not fall back to the server. */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'DATABASE_URL') env[k] = v;
  return env;
}

async function cli(target: string[], args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...target, ...args], { cwd: ROOT, timeout: 60_000, env: childEnv() });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

for (const kind of BACKENDS) {
  describe(`tasks CLI (${kind})`, () => {
    let t: TestDb | undefined;
    let dir: string;
    let target: string[];
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'seedcore-tasks-cli-'));
      if (kind === 'postgres') {
        t = await freshDb('postgres', { poolSize: 2 });
        target = ['--database-url', t.url as string];
      } else target = ['--data-dir', join(dir, 'data')];
    });
    after(async () => {
      await t?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('submit, tasks get/list/cancel/retry, validation errors and exit codes', async () => {
      const sub = await cli(target, ['submit', 'echo', '--params', '{"n":1}', '--description', 'from the CLI', '--domain', 'cli']);
      assert.equal(sub.code, 0, sub.stderr);
      const id = sub.stdout.trim();
      assert.match(id, /^[0-9a-f-]{36}$/);
      const got = await cli(target, ['--json', 'tasks', 'get', id.slice(0, 8)]);
      assert.equal(got.code, 0, got.stderr);
      const row = JSON.parse(got.stdout) as { id: string; status: string; params: unknown; domain: string };
      assert.equal(row.id, id);
      assert.equal(row.status, 'queued');
      assert.deepEqual(row.params, { n: 1 });
      const dep = await cli(target, ['--json', 'submit', 'echo', '--depends-on', id.slice(0, 8)]);
      assert.equal((JSON.parse(dep.stdout) as { status: string }).status, 'created');
      const list = await cli(target, ['--json', 'tasks', 'list', '--domain', 'cli']);
      assert.deepEqual(
        (JSON.parse(list.stdout) as { items: { id: string }[] }).items.map((x) => x.id),
        [id],
      );
      assert.equal((await cli(target, ['tasks', 'cancel', id])).code, 0);
      assert.equal((await cli(target, ['tasks', 'cancel', id])).code, 5, 'cancelling an ended task is a conflict');
      const retried = await cli(target, ['--json', 'tasks', 'retry', id]);
      assert.equal((JSON.parse(retried.stdout) as { status: string; attempts: number }).attempts, 0);
      const bad = await cli(target, ['submit', 'echo', '--params', '[1]']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /params: expected an object/);
      assert.equal((await cli(target, ['tasks', 'get', '00000000-0000-4000-8000-000000000000'])).code, 4);
      const cleanup = await cli(target, ['--json', 'tasks', 'cleanup-stale', '--stale-minutes', '15', '--max-attempts', '3']);
      assert.deepEqual(JSON.parse(cleanup.stdout), { recovered: 0 });
    });

    it('worker --handlers runs a module alongside the built-ins and drains on SIGTERM (exit 0)', async () => {
      const mod = join(dir, 'handlers.mjs');
      writeFileSync(
        mod,
        [
          'export default {',
          '  shout: async (task) => ({ text: String(task.params.text).toUpperCase() }),',
          "  mark: async () => { process.stderr.write('marker task ran\\n'); return null; },",
          '};',
          '',
        ].join('\n'),
      );
      const a = await cli(target, ['submit', 'shout', '--params', '{"text":"hi"}']);
      const b = await cli(target, ['submit', 'noop']);
      // Released only when both tasks above have completed; its handler says so on stderr.
      const marker = await cli(target, ['submit', 'mark', '--depends-on', `${a.stdout.trim()},${b.stdout.trim()}`]);
      assert.equal(marker.code, 0, marker.stderr);
      const w = spawnSeedcore([...target, 'worker', '--handlers', mod, '--concurrency', '2', '--poll-ms', '50', '--no-registry'], {}, true);
      try {
        await waitForLog(w, 'worker ready', 60_000);
        // On PGlite the worker owns the data directory, so the test watches its output, not the database.
        await waitForLog(w, 'marker task ran', 20_000);
      } finally {
        w.child.kill('SIGTERM');
      }
      assert.equal(await w.exited, 0, w.stderr());
      assert.match(w.stderr(), /"msg":"worker stopped"/);
      const r = await cli(target, ['--json', 'tasks', 'get', a.stdout.trim()]);
      const row = JSON.parse(r.stdout) as { status: string; result: unknown };
      assert.equal(row.status, 'completed');
      assert.deepEqual(row.result, { text: 'HI' });
      assert.equal((JSON.parse((await cli(target, ['--json', 'tasks', 'get', b.stdout.trim()])).stdout) as { status: string }).status, 'completed');
    });
  });
}
