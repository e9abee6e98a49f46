import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeedCoreError } from '../errors.js';
import { MIGRATIONS_DIR } from '../paths.js';

export interface MigrationFile {
  version: number;
  /** File name without `.sql`, e.g. `001_create_tasks_table`. */
  name: string;
  path: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
  sql: string;
}

const FILE_RE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * Checksums of earlier versions of a migration file that the ledger accepts as the current
 * file's. Applied files must not change, with these documented exceptions: the edit made the
 * file keep data it used to drop, and a database that applied the earlier version is already
 * past the point where the difference matters (so it is not re-applied and `status` shows it
 * as applied).
 * - 007: embeddings whose node_id is not a graph_node_map node were deleted; now they move to
 *   graph_embeddings_quarantine.
 * - 009: the sample facts were inserted even when the same texts existed under other ids (an
 *   upgraded original database); now those are skipped.
 */
export const SUPERSEDED_CHECKSUMS: Readonly<Record<number, readonly string[]>> = {
  7: ['4a408b0a0dc61e78209de8b0ff40b2913b1e04a62c16224665c8bcf3492741b5'],
  9: ['f94a091da285262b8daafeb1dbec376ba04c85544420ae1696cb57add5c9ecd8'],
};

/** Whether a ledger checksum stands for this file: its own, or a superseded version's. */
export function acceptsChecksum(file: Pick<MigrationFile, 'version' | 'checksum'>, checksum: string): boolean {
  return checksum === file.checksum || (SUPERSEDED_CHECKSUMS[file.version]?.includes(checksum) ?? false);
}

/** The migration files in `dir`, in version order. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  const files = readdirSync(dir)
    .filter((f) => FILE_RE.test(f))
    .sort();
  const seen = new Set<number>();
  return files.map((f) => {
    const m = FILE_RE.exec(f) as RegExpExecArray;
    const version = Number(m[1]);
    if (seen.has(version)) throw new SeedCoreError('SEEDCORE_MIGRATION_FAILED', `Two migration files share version ${m[1]} in ${dir}.`);
    seen.add(version);
    const path = join(dir, f);
    const bytes = readFileSync(path);
    return { version, name: f.slice(0, -4), path, checksum: createHash('sha256').update(bytes).digest('hex'), sql: bytes.toString('utf8') };
  });
}

/**
 * Each file is wrapped in `BEGIN;` … `COMMIT;` so that psql applies it atomically. The runner
 * applies the body inside its own transaction (together with its ledger row), so it removes
 * those two lines; a file without them is refused rather than half-applied.
 */
export function transactionBody(file: MigrationFile): string {
  const lines = file.sql.split('\n');
  const isCode = (l: string): boolean => l.trim() !== '' && !l.trim().startsWith('--');
  const first = lines.findIndex(isCode);
  let last = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (isCode(lines[i] as string)) {
      last = i;
      break;
    }
  }
  if (first < 0 || last <= first || !/^BEGIN;\s*$/i.test((lines[first] as string).trim()) || !/^COMMIT;\s*$/i.test((lines[last] as string).trim())) {
    throw new SeedCoreError('SEEDCORE_MIGRATION_FAILED', `${file.name}.sql must start with a 'BEGIN;' line and end with a 'COMMIT;' line.`);
  }
  return lines.slice(first + 1, last).join('\n');
}
