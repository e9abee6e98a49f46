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
  /** Embedded data directory; when given (and no `databaseUrl`), the embedded backend is used even if DATABASE_URL is set. @defaultValue process.env.SEEDCORE_DATA_DIR ?? '.seedcore/data' */
  dataDir?: string | undefined;
  /** Server pool size. @defaultValue 10 */
  poolSize?: number | undefined;
  applicationName?: string | undefined;
}

/**
 * Pick the backend. Explicit options win over the environment: `databaseUrl` → server,
 * else `dataDir` → embedded, else DATABASE_URL → server, else the embedded default
 * (SEEDCORE_DATA_DIR or .seedcore/data).
 */
export async function connect(options: ConnectOptions = {}): Promise<Db> {
  const url = options.databaseUrl ?? (options.dataDir === undefined ? process.env.DATABASE_URL : undefined);
  if (url) {
    return PostgresDb.open({
      databaseUrl: url,
      ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
      ...(options.applicationName !== undefined ? { applicationName: options.applicationName } : {}),
    });
  }
  return PGliteDb.open({ dataDir: options.dataDir ?? process.env.SEEDCORE_DATA_DIR ?? DEFAULT_DATA_DIR });
}
