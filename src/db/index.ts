import { PGliteDb } from './pglite.js';
import { PostgresDb } from './postgres.js';
import type { Db } from './types.js';

export type { BackendKind, Db, Queryable, QueryResult, Row, Tx } from './types.js';
export { PGliteDb, type PGliteOpenOptions } from './pglite.js';
export { PostgresDb, type PostgresOpenOptions, redactUrl } from './postgres.js';

/** The embedded data directory used when neither an option nor SEEDCORE_DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = '.seedcore/data';

export interface ConnectOptions {
  /** A PostgreSQL URL. @defaultValue process.env.DATABASE_URL */
  databaseUrl?: string | undefined;
  /** Embedded data directory, used when there is no database URL. @defaultValue process.env.SEEDCORE_DATA_DIR ?? '.seedcore/data' */
  dataDir?: string | undefined;
  /** Server pool size. @defaultValue 10 */
  poolSize?: number | undefined;
  applicationName?: string | undefined;
}

/** Open the server backend when a URL is given (or in DATABASE_URL), else the embedded one. */
export async function connect(options: ConnectOptions = {}): Promise<Db> {
  const url = options.databaseUrl ?? process.env.DATABASE_URL;
  if (url) {
    return PostgresDb.open({
      databaseUrl: url,
      ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
      ...(options.applicationName !== undefined ? { applicationName: options.applicationName } : {}),
    });
  }
  return PGliteDb.open({ dataDir: options.dataDir ?? process.env.SEEDCORE_DATA_DIR ?? DEFAULT_DATA_DIR });
}
