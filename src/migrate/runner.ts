import { ADVISORY_LOCKS } from '../advisory-locks.js';
import { SeedCoreError, fromDbError } from '../errors.js';
import type { Db, Queryable } from '../db/types.js';
import { quarantineReport, type QuarantineReport } from './quarantine.js';
import { acceptsChecksum, loadMigrations, transactionBody, type MigrationFile } from './files.js';

const LEDGER_DDL = `
CREATE TABLE IF NOT EXISTS seedcore_migrations (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  duration_ms integer NOT NULL
)`;

/** The ledger's columns as LedgerRow has them; add a WHERE or ORDER BY. */
const LEDGER_SELECT = 'SELECT version, name, checksum, applied_at, duration_ms FROM seedcore_migrations';

export interface LedgerRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
}

export interface MigrationStatus {
  version: number;
  name: string;
  state: 'applied' | 'pending' | 'changed' | 'missing-file';
  checksum: string;
  appliedAt?: Date;
  durationMs?: number;
}

export interface MigrateOptions {
  /** Report what would run, apply nothing. @defaultValue false */
  dryRun?: boolean;
  /** Directory of the .sql files. @defaultValue the package's migrations/ */
  dir?: string;
  /** Called before and after each file, for progress output. */
  onProgress?: (event: { phase: 'start' | 'done' | 'skip'; file: MigrationFile; durationMs?: number }) => void;
}

export interface MigrateResult {
  applied: { version: number; name: string; durationMs: number }[];
  pending: { version: number; name: string }[];
  skipped: number;
  /** Embeddings an upgrade kept aside in graph_embeddings_quarantine (null: none ever). */
  quarantine: QuarantineReport | null;
}

async function readLedger(db: Queryable): Promise<LedgerRow[]> {
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass('seedcore_migrations')::text AS t");
  if (!exists.rows[0]?.t) return [];
  return (await db.query<LedgerRow>(`${LEDGER_SELECT} ORDER BY version`)).rows;
}

function changedError(file: MigrationFile, row: LedgerRow): SeedCoreError {
  return new SeedCoreError(
    'SEEDCORE_MIGRATION_CHANGED',
    `Migration ${file.name}.sql was applied on ${row.applied_at.toISOString()} with checksum ${row.checksum.slice(0, 12)}… but the file on disk now has ${file.checksum.slice(0, 12)}…. ` +
      'Applied migrations must not change: restore the file and put the change in a new migration.',
    { details: { file: `${file.name}.sql`, applied: row.checksum, onDisk: file.checksum } },
  );
}

/** Compare the files with the ledger. */
export async function migrationStatus(db: Db, dir?: string): Promise<MigrationStatus[]> {
  const files = loadMigrations(dir);
  const ledger = new Map((await readLedger(db)).map((r) => [r.version, r]));
  const out: MigrationStatus[] = files.map((f) => {
    const row = ledger.get(f.version);
    ledger.delete(f.version);
    if (!row) return { version: f.version, name: f.name, state: 'pending', checksum: f.checksum };
    return {
      version: f.version,
      name: f.name,
      state: acceptsChecksum(f, row.checksum) ? 'applied' : 'changed',
      checksum: f.checksum,
      appliedAt: row.applied_at,
      durationMs: row.duration_ms,
    };
  });
  for (const row of ledger.values()) {
    out.push({ version: row.version, name: row.name, state: 'missing-file', checksum: row.checksum, appliedAt: row.applied_at, durationMs: row.duration_ms });
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * Apply pending migrations in order, each in its own transaction together with its ledger
 * row, under a transaction-scoped advisory lock: concurrent runners queue up, and the later
 * ones find the work done. Refuses to start when an applied file changed.
 */
export async function migrate(db: Db, options: MigrateOptions = {}): Promise<MigrateResult> {
  const files = loadMigrations(options.dir);
  const ledger = new Map((await readLedger(db)).map((r) => [r.version, r]));
  for (const f of files) {
    const row = ledger.get(f.version);
    if (row && !acceptsChecksum(f, row.checksum)) throw changedError(f, row);
  }
  const result: MigrateResult = {
    applied: [],
    pending: files.filter((f) => !ledger.has(f.version)).map((f) => ({ version: f.version, name: f.name })),
    skipped: 0,
    quarantine: null,
  };
  if (options.dryRun) return { ...result, quarantine: await quarantineReport(db) };

  for (const file of files) {
    if (ledger.has(file.version)) {
      result.skipped++;
      continue;
    }
    const body = transactionBody(file);
    options.onProgress?.({ phase: 'start', file });
    const started = performance.now();
    const applied = await db.transaction(async (tx) => {
      // Transaction-scoped, so a crashed runner never leaves it held.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.migrate]);
      await tx.exec(LEDGER_DDL);
      const done = await tx.query<LedgerRow>(`${LEDGER_SELECT} WHERE version = $1`, [file.version]);
      const row = done.rows[0];
      if (row) {
        // Another runner applied it while we waited for the lock.
        if (!acceptsChecksum(file, row.checksum)) throw changedError(file, row);
        return false;
      }
      try {
        await tx.exec(body);
      } catch (e) {
        const err = fromDbError(e);
        throw new SeedCoreError('SEEDCORE_MIGRATION_FAILED', `Migration ${file.name}.sql failed and was rolled back: ${err.message}`, {
          cause: e,
          details: { file: `${file.name}.sql` },
        });
      }
      const durationMs = Math.round(performance.now() - started);
      await tx.query('INSERT INTO seedcore_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)', [
        file.version,
        file.name,
        file.checksum,
        durationMs,
      ]);
      return true;
    });
    const durationMs = Math.round(performance.now() - started);
    if (applied) {
      result.applied.push({ version: file.version, name: file.name, durationMs });
      options.onProgress?.({ phase: 'done', file, durationMs });
    } else {
      result.skipped++;
      options.onProgress?.({ phase: 'skip', file });
    }
  }
  result.pending = [];
  if (result.applied.length > 0) await db.schemaChanged();
  result.quarantine = await quarantineReport(db);
  return result;
}
