/**
 * What the CLI says when something is wrong before any work starts: --version, a database
 * URL that is not one (named, password masked), a database or role the server does not know
 * (exit 3, like an unreachable server), a busy port for serve (one line, no stack trace); and
 * the small output contracts of graph and embeddings commands.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../src/paths.js';
import { runCli } from './helpers/cli.js';
import { SERVER_URL, freshDb, type TestDb } from './helpers/db.js';

describe('CLI errors before any work', () => {
  it('prints the version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), (JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version: string }).version);
  });

  it('names an unparsable database URL with its password masked (exit 2)', async () => {
    for (const url of ['not a url', 'mysql://u:hunter2@db/x']) {
      const r = await runCli(['--database-url', url, 'tasks', 'list']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /is not a PostgreSQL URL/);
      assert.doesNotMatch(r.stderr, /hunter2|ENOTFOUND|\n\s+at /);
    }
    const masked = await runCli(['--database-url', 'mysql://u:hunter2@db/x', 'tasks', 'list']);
    assert.match(masked.stderr, /mysql:\/\/u:\[redacted\]@db\/x/);
  });
});

describe('CLI against a PostgreSQL server', { skip: SERVER_URL ? false : 'needs DATABASE_URL' }, () => {
  let t: TestDb;
  let busy: Server;
  let port: number;
  before(async () => {
    t = await freshDb('postgres', { poolSize: 2 });
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    await t.cleanup();
  });

  it('exits 3 for a database or role the server does not know', async () => {
    const base = new URL(t.url as string);
    const noDb = new URL(base);
    noDb.pathname = '/seedcore_no_such_database';
    const noRole = new URL(base);
    noRole.username = 'seedcore_no_such_role';
    for (const url of [noDb, noRole]) {
      const r = await runCli(['--database-url', url.toString(), 'tasks', 'stats']);
      assert.equal(r.code, 3, `${url.pathname} ${url.username}: ${r.stderr}`);
      assert.match(r.stderr, /does not exist|authentication/);
    }
    // Positive control: the real database answers.
    assert.equal((await runCli(['--database-url', t.url as string, 'tasks', 'stats'])).code, 0);
  });

  it('says in one line that the port is busy', async () => {
    const r = await runCli(['--database-url', t.url as string, 'serve', '--port', String(port), '--no-demo', '--no-background']);
    assert.equal(r.code, 3, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] as string, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
  });

  it('shows graph neighbours under a header, embeddings as text unless --json, and says why a node exists', async () => {
    const target = ['--database-url', t.url as string];
    const a = await runCli([...target, '--json', 'graph', 'node', 'create', 'agent', 'cli-errors-a']);
    assert.equal(a.code, 0, a.stderr);
    const again = await runCli([...target, 'graph', 'node', 'create', 'agent', 'cli-errors-a']);
    assert.equal(again.code, 5);
    assert.match(again.stderr, /agent 'cli-errors-a' already exists: create makes new entities only/);
    const b = await runCli([...target, '--json', 'graph', 'node', 'create', 'agent', 'cli-errors-b']);
    assert.equal(b.code, 0, b.stderr);
    const nodeId = String(JSON.parse(a.stdout).node_id);
    const edge = await runCli([...target, 'graph', 'edge', 'add', 'agent__collab__agent', `node:${nodeId}`, `node:${String(JSON.parse(b.stdout).node_id)}`]);
    assert.equal(edge.code, 0, edge.stderr);
    const n = await runCli([...target, 'graph', 'neighbors', '--node-id', nodeId]);
    assert.equal(n.code, 0, n.stderr);
    const vector = JSON.stringify(Array.from({ length: 128 }, (_, i) => i / 128));
    const up = await runCli([...target, 'embeddings', 'upsert', '--node-id', nodeId, '--vector', vector]);
    assert.equal(up.code, 0, up.stderr);
    const text = await runCli([...target, 'embeddings', 'get', nodeId]);
    assert.equal(text.code, 0, text.stderr);
    assert.throws(() => JSON.parse(text.stdout), 'plain text without --json');
    assert.match(text.stdout, /^node_id +\d+$/m);
    assert.match(text.stdout, /\(128 dimensions\)/);
    const json = await runCli([...target, '--json', 'embeddings', 'get', nodeId]);
    assert.equal(JSON.parse(json.stdout).vector.length, 128);
    const index = await runCli([...target, 'embeddings', 'index']);
    assert.equal(index.code, 0, index.stderr);
    assert.throws(() => JSON.parse(index.stdout));
    assert.match(index.stdout, /^method /m);
    assert.match(n.stdout.split('\n')[0] as string, /^hop +node_id +node_type +ext_id +via$/);
    assert.match(n.stdout, /^1 +\d+ +agent +cli-errors-b +agent__collab__agent$/m);
  });
});
