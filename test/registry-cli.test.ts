import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PGliteDb } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { RegistryClient, currentEpoch } from '../src/registry/index.js';
import { freshDb, SERVER_URL, type TestDb } from './helpers/db.js';
import { runCli, type CliResult } from './helpers/cli.js';

describe('registry CLI (pglite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seedcore-registry-cli-'));
  const id = randomUUID();
  before(async () => {
    // One process per data directory: register an instance, close, then let the CLI read it.
    const db = await PGliteDb.open({ dataDir: join(dir, 'data') });
    try {
      await migrate(db);
      await db.query("SELECT register_instance($1::uuid, 'embedded_organ', $2::uuid, NULL, NULL, 'host', '127.0.0.1', 1)", [id, await currentEpoch(db)]);
      await db.query("SELECT set_instance_status($1::uuid, 'alive')", [id]);
      // A long window, so a slow CLI start on a loaded machine cannot make the instance stale.
      await db.query('UPDATE cluster_metadata SET liveness_seconds = 3600 WHERE id = 1');
    } finally {
      await db.close();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]): Promise<CliResult> => runCli(['--data-dir', join(dir, 'data'), ...args]);

  it('list --json, epoch rotate, expire --json on the embedded database', async () => {
    const list = await cli('--json', 'registry', 'list');
    assert.equal(list.code, 0, list.stderr);
    const rows = (JSON.parse(list.stdout) as { items: { instance_id: string; heartbeat_age_seconds: number }[] }).items;
    assert.equal(rows[0]?.instance_id, id);
    assert.ok((rows[0]?.heartbeat_age_seconds ?? -1) >= 0);
    const rotated = await cli('registry', 'epoch', 'rotate');
    assert.equal(rotated.code, 0, rotated.stderr);
    const expired = await cli('--json', 'registry', 'expire');
    assert.equal(expired.code, 0, expired.stderr);
    assert.deepEqual(JSON.parse(expired.stdout), { stale: 0, oldEpoch: 1 });
  });
});

// With a live client in this process sharing the database with the CLI: that needs the
// server (a PGlite data directory belongs to one process).
describe('registry CLI (postgres)', { skip: SERVER_URL ? false : 'needs DATABASE_URL: the CLI and this test cannot share a PGlite data directory' }, () => {
  let t: TestDb;
  let client: RegistryClient;
  before(async () => {
    t = await freshDb('postgres');
    client = new RegistryClient(t.db, {
      logicalId: 'cli_organ',
      heartbeatBaseMs: 200,
      heartbeatJitterMs: 0,
      logger: { info: () => undefined, warn: () => undefined },
    });
    await client.start();
  });
  after(async () => {
    await client.close();
    await t.cleanup();
  });
  const cli = (...args: string[]): Promise<CliResult> => runCli(['--database-url', t.url as string, ...args]);

  it('list shows live instances with a database-clock heartbeat age; lookup; rotate fences; expire; list --all', async () => {
    const list = await cli('--json', 'registry', 'list');
    assert.equal(list.code, 0, list.stderr);
    const rows = (JSON.parse(list.stdout) as { items: { instance_id: string; status: string; heartbeat_age_seconds: number }[] }).items;
    assert.deepEqual(
      rows.map((r) => [r.instance_id, r.status]),
      [[client.instanceId, 'alive']],
    );
    assert.ok((rows[0]?.heartbeat_age_seconds ?? 99) < 5);
    const found = await cli('--json', 'registry', 'lookup', 'cli_organ');
    assert.equal(found.code, 0, found.stderr);
    assert.equal((JSON.parse(found.stdout) as { instance_id: string }).instance_id, client.instanceId);
    const missing = await cli('registry', 'lookup', 'nobody');
    assert.equal(missing.code, 4, missing.stderr);
    assert.match(missing.stderr, /no live instance serves 'nobody' \[SEEDCORE_NOT_FOUND\]/);
    const before = client.instanceId;
    const rotated = await cli('--json', 'registry', 'epoch', 'rotate');
    assert.equal(rotated.code, 0, rotated.stderr);
    const expired = await cli('--json', 'registry', 'expire');
    assert.equal(expired.code, 0, expired.stderr);
    const all = await cli('--json', 'registry', 'list', '--all');
    assert.equal(all.code, 0, all.stderr);
    const statuses = new Map((JSON.parse(all.stdout) as { items: { instance_id: string; status: string }[] }).items.map((r) => [r.instance_id, r.status]));
    assert.equal(statuses.get(before as string), 'dead', 'old-epoch instance expired');
  });
});
