/**
 * Opening the schema on a primary or a standby. A streaming standby replays the primary's
 * migrations and cannot run any itself (nor LISTEN, nor write), but reads work: migrate a
 * primary, and on a standby only check that it is already up to date.
 */
import { SeedCoreError } from '../errors.js';
import { migrate, migrationStatus } from '../migrate/runner.js';
import type { Db } from './types.js';

export async function migrateUnlessStandby(db: Db): Promise<{ standby: boolean }> {
  if (!(await db.isStandby())) {
    await migrate(db);
    return { standby: false };
  }
  const pending = (await migrationStatus(db)).filter((s) => s.state === 'pending');
  const first = pending[0];
  if (first)
    throw new SeedCoreError(
      'SEEDCORE_UNAVAILABLE',
      `${db.description} is a read-only standby and lacks ${pending.length} migration(s), from ${first.name}.sql: ` +
        'run `seedcore migrate` against the primary (the standby replays it)',
      { details: { pending: pending.map((p) => p.version) } },
    );
  return { standby: true };
}
