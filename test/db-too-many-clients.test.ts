/**
 * A server that refuses a connection because of a connection limit (SQLSTATE 53300) is
 * unavailable for now, not a failure of the command: SEEDCORE_UNAVAILABLE, CLI exit code 3.
 * Server only: PGlite has no connections to limit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { fromDbError } from '../src/errors.js';
import { freshDb, type TestDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';

const serverUrl = process.env['DATABASE_URL'];

describe('too many connections (server)', { skip: serverUrl ? false : 'needs DATABASE_URL' }, () => {
  let t: TestDb;
  const role = `sc_limited_${process.pid}`;
  let url: string;
  let holder: pg.Client;

  before(async () => {
    t = await freshDb('postgres');
    await t.db.exec(`CREATE ROLE ${role} LOGIN PASSWORD 'limited' CONNECTION LIMIT 1`);
    await t.db.exec(
      `GRANT ALL ON SCHEMA public TO ${role}; GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${role}`,
    );
    const u = new URL(t.url as string);
    u.username = role;
    u.password = 'limited';
    url = u.toString();
    holder = new pg.Client({ connectionString: url });
    holder.on('error', () => undefined); // ended by the test
    await holder.connect(); // takes the role's one connection
  });
  after(async () => {
    await holder.end().catch(() => undefined);
    await t.cleanup();
    // The role owns grants in the dropped database only; drop it from the server's own database.
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  it('the refused connection maps to SEEDCORE_UNAVAILABLE', async () => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    const err = await c.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err, 'the second connection was refused');
    assert.equal((err as { code?: string }).code, '53300');
    assert.equal(fromDbError(err).code, 'SEEDCORE_UNAVAILABLE');
  });

  it('the CLI exits 3 (unavailable); with the connection free the same command succeeds', async () => {
    const refused = await runCli(['--database-url', url, 'tasks', 'stats', '--json']);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /SEEDCORE_UNAVAILABLE/);
    // Positive control: once the holder disconnects, the same command runs.
    await holder.end();
    const ok = await runCli(['--database-url', url, 'tasks', 'stats', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
  });
});
