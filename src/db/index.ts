import { PGliteDb } from './pglite.js';
import { PostgresDb } from './postgres.js';
import type { DbLogger } from './listener.js';
import type { ConnectionSettings } from './settings.js';
import type { Db } from './types.js';

export type { BackendKind, Db, Queryable, QueryResult, Row, Tx } from './types.js';
export { PGliteDb, type PGliteOpenOptions } from './pglite.js';
export { PostgresDb, type PostgresOpenOptions, redactUrl } from './postgres.js';
export { CONNECTION_DEFAULTS, resolveConnectionSettings, type ConnectionSettings, type ResolvedConnectionSettings } from './settings.js';
export type { DbLogger } from './listener.js';
export { migrateUnlessStandby } from './standby.js';

/** The embedded data directory used when neither an option nor SEEDCORE_DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = '.seedcore/data';

/** Server connection settings (listenUrl, preparedStatements, timeouts, keepalive) are ignored by the embedded backend. */
export interface ConnectOptions extends ConnectionSettings {
  /** A PostgreSQL URL. @defaultValue process.env.DATABASE_URL */
  databaseUrl?: string | undefined;
  /** Embedded data directory; when given (and no `databaseUrl`), the embedded backend is used even if DATABASE_URL is set. @defaultValue process.env.SEEDCORE_DATA_DIR ?? '.seedcore/data' */
  dataDir?: string | undefined;
  /** Server pool size. @defaultValue 10 */
  poolSize?: number | undefined;
  applicationName?: string | undefined;
  /** Where the server backend reports (once) that notifications do not arrive. @defaultValue JSON lines on stderr */
  log?: DbLogger | undefined;
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
      listenUrl: options.listenUrl,
      preparedStatements: options.preparedStatements,
      queryTimeoutMs: options.queryTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      keepAliveMs: options.keepAliveMs,
      ...(options.log ? { log: options.log } : {}),
      ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
      ...(options.applicationName !== undefined ? { applicationName: options.applicationName } : {}),
    });
  }
  return PGliteDb.open({ dataDir: options.dataDir ?? process.env.SEEDCORE_DATA_DIR ?? DEFAULT_DATA_DIR });
}
