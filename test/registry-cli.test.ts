import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../src/registry/index.js';
import { freshDb, SERVER_URL, type TestDb } from './helpers/db.js';
import { runCli, type CliResult } from './helpers/cli.js';

// The CLI opens its own connection, so a live instance held by this process must share the
// database with it: that needs the server (a PGlite data directory belongs to one process).
// The same commands on PGlite are covered by the library tests of the functions they call.
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
    const rows = JSON.parse(list.stdout) as { instance_id: string; status: string; heartbeat_age_seconds: number }[];
    assert.deepEqual(
      rows.map((r) => [r.instance_id, r.status]),
      [[client.instanceId, 'alive']],
    );
    assert.ok((rows[0]?.heartbeat_age_seconds ?? 99) < 5);
    const found = await cli('--json', 'registry', 'lookup', 'cli_organ');
    assert.equal(found.code, 0, found.stderr);
    assert.equal((JSON.parse(found.stdout) as { instance_id: string }).instance_id, client.instanceId);
    assert.equal((await cli('registry', 'lookup', 'nobody')).code, 4);
    const before = client.instanceId;
    const rotated = await cli('--json', 'registry', 'epoch', 'rotate');
    assert.equal(rotated.code, 0, rotated.stderr);
    const expired = await cli('--json', 'registry', 'expire');
    assert.equal(expired.code, 0, expired.stderr);
    const all = await cli('--json', 'registry', 'list', '--all');
    const statuses = new Map((JSON.parse(all.stdout) as { instance_id: string; status: string }[]).map((r) => [r.instance_id, r.status]));
    assert.equal(statuses.get(before as string), 'dead', 'old-epoch instance expired');
  });
});
