import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PGliteDb } from '../src/db/index.js';
import { migrate, migrationStatus } from '../src/migrate/runner.js';
import { MIGRATIONS_DIR } from '../src/paths.js';
import { loadMigrations } from '../src/migrate/files.js';
import { openSeedCore } from '../src/seedcore.js';
import { BACKENDS, SERVER_URL, emptyDb } from './helpers/db.js';
import { runCli } from './helpers/cli.js';

/** How many migration files the package ships (001…012 plus later ones). */
const FILES = loadMigrations().length;
const tmp = mkdtempSync(join(tmpdir(), 'seedcore-runner-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function copyMigrations(name: string): string {
  const dir = join(tmp, name);
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

for (const kind of BACKENDS) {
  describe(`migration runner on ${kind}`, () => {
    it('dry-run applies nothing; migrate records version, name, checksum, time and duration', async () => {
      const t = await emptyDb(kind);
      try {
        const dry = await migrate(t.db, { dryRun: true });
        assert.equal(dry.pending.length, FILES);
        assert.equal(dry.applied.length, 0);
        assert.equal((await t.db.query("SELECT to_regclass('tasks') AS t")).rows[0]?.t ?? null, null);
        const res = await migrate(t.db);
        assert.equal(res.applied.length, FILES);
        const status = await migrationStatus(t.db);
        assert.equal(status.filter((s) => s.state === 'applied').length, FILES);
        const ledger = await t.db.query<{ version: number; name: string; checksum: string; applied_at: Date; duration_ms: number }>(
          'SELECT * FROM seedcore_migrations ORDER BY version',
        );
        assert.equal(ledger.rows[0]?.name, '001_create_tasks_table');
        assert.match(ledger.rows[0]?.checksum ?? '', /^[0-9a-f]{64}$/);
        assert.ok(ledger.rows.every((r) => r.applied_at instanceof Date && r.duration_ms >= 0));
        const again = await migrate(t.db);
        assert.deepEqual([again.applied.length, again.skipped], [0, FILES]);
      } finally {
        await t.cleanup();
      }
    });

    it('refuses to continue when an applied file changed, naming it', async () => {
      const t = await emptyDb(kind);
      const dir = copyMigrations(`changed-${kind}`);
      try {
        await migrate(t.db, { dir });
        const file = join(dir, '009_create_facts_table.sql');
        writeFileSync(file, readFileSync(file, 'utf8').replace('COMMIT;', '-- edited\nCOMMIT;'));
        writeFileSync(join(dir, '099_later.sql'), 'BEGIN;\nCREATE TABLE later_table (id int);\nCOMMIT;\n');
        await assert.rejects(
          migrate(t.db, { dir }),
          (e: Error & { code?: string }) => e.code === 'SEEDCORE_MIGRATION_CHANGED' && e.message.includes('009_create_facts_table.sql'),
        );
        assert.equal((await t.db.query("SELECT to_regclass('later_table')::text AS t")).rows[0]?.t ?? null, null, 'nothing after the refusal ran');
        const status = await migrationStatus(t.db, dir);
        assert.equal(status.find((s) => s.version === 9)?.state, 'changed');
      } finally {
        await t.cleanup();
      }
    });

    it('a failing file is rolled back whole and not recorded; a file without BEGIN/COMMIT is refused', async () => {
      const t = await emptyDb(kind);
      const dir = copyMigrations(`failing-${kind}`);
      try {
        writeFileSync(join(dir, '098_bad.sql'), 'BEGIN;\nCREATE TABLE half_done (id int);\nSELECT 1/0;\nCOMMIT;\n');
        await assert.rejects(
          migrate(t.db, { dir }),
          (e: Error & { code?: string }) => e.code === 'SEEDCORE_MIGRATION_FAILED' && e.message.includes('098_bad.sql'),
        );
        assert.equal((await t.db.query("SELECT to_regclass('half_done')::text AS t")).rows[0]?.t ?? null, null);
        assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM seedcore_migrations')).rows[0]?.n, FILES);
        writeFileSync(join(dir, '098_bad.sql'), 'CREATE TABLE no_tx (id int);\n');
        await assert.rejects(migrate(t.db, { dir }), /must start with a 'BEGIN;' line/);
      } finally {
        await t.cleanup();
      }
    });
  });
}

describe('openSeedCore', () => {
  it('regression: enum array parameters work right after migrating a fresh embedded data directory', async () => {
    // PGlite learned array types only at start, so taskstatus[] (created by the migrations in
    // the same session) was sent as a scalar: "malformed array literal".
    const core = await openSeedCore({ dataDir: join(tmp, 'fresh-enum-arrays') });
    try {
      const id = (await core.tasks.submit({ type: 'noop' })).id;
      const page = await core.tasks.list({ status: ['queued'] });
      assert.deepEqual(
        page.items.map((t) => t.id),
        [id],
      );
    } finally {
      await core.close();
    }
  });

  it('migrates on open unless told not to', async () => {
    const plain = await PGliteDb.open({});
    const core = await openSeedCore({ db: plain, migrate: false });
    assert.equal((await core.db.query("SELECT to_regclass('tasks')::text AS t")).rows[0]?.t ?? null, null);
    await core.close();
    const migrated = await openSeedCore({ db: plain });
    assert.equal((await migrated.db.query("SELECT to_regclass('tasks')::text AS t")).rows[0]?.t, 'tasks');
    await migrated.close();
    await plain.close();
  });
});

describe('CLI: migrate, status, verify', () => {
  it('embedded: a second process on the same data directory gets a clear error, not corruption', async () => {
    const dataDir = join(tmp, 'locked-data');
    const first = await runCli(['--data-dir', dataDir, 'migrate']);
    assert.equal(first.code, 0, first.stderr);
    const db = await PGliteDb.open({ dataDir }); // this process now owns it
    try {
      const second = await runCli(['--data-dir', dataDir, 'status']);
      assert.equal(second.code, 3);
      assert.match(second.stderr, new RegExp(`in use by process ${process.pid}`));
      assert.match(second.stderr, /SEEDCORE_DATA_DIR_LOCKED/);
    } finally {
      await db.close();
    }
    const verify = await runCli(['--data-dir', dataDir, '--json', 'verify']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal((JSON.parse(verify.stdout) as { ok: boolean }).ok, true);
  });

  it(
    'server: two concurrent `seedcore migrate` on one fresh database both exit 0',
    { skip: SERVER_URL ? false : 'needs DATABASE_URL (PGlite data directories are single-process)' },
    async () => {
      const t = await emptyDb('postgres');
      try {
        const env = { DATABASE_URL: t.url };
        const [a, b] = await Promise.all([runCli(['migrate'], env), runCli(['migrate'], env)]);
        assert.equal(a.code, 0, a.stderr);
        assert.equal(b.code, 0, b.stderr);
        const ledger = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM seedcore_migrations');
        assert.equal(ledger.rows[0]?.n, FILES);
        const status = await runCli(['--json', 'status'], env);
        assert.equal((JSON.parse(status.stdout) as { state: string }[]).filter((s) => s.state === 'applied').length, FILES);
        await t.db.exec('DROP VIEW hgnn_edges');
        const verify = await runCli(['verify'], env);
        assert.equal(verify.code, 1);
        assert.match(verify.stdout, /MISSING hgnn_edges/);
      } finally {
        await t.cleanup();
      }
    },
  );
});
