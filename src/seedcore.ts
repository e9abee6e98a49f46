import { connect, type ConnectOptions, type Db } from './db/index.js';
import { migrate } from './migrate/runner.js';

export interface OpenSeedCoreOptions extends ConnectOptions {
  /** Apply pending migrations on open. @defaultValue true */
  migrate?: boolean;
  /** Use this already-open database instead of connecting (SeedCore will not close it). */
  db?: Db;
}

/** One object with every SeedCore API, bound to one database. */
export interface SeedCore {
  readonly db: Db;
  /** Close the database (unless it was passed in) and stop background work started through this object. */
  close(): Promise<void>;
}

export async function openSeedCore(options: OpenSeedCoreOptions = {}): Promise<SeedCore> {
  const db = options.db ?? (await connect(options));
  const ownsDb = options.db === undefined;
  try {
    if (options.migrate !== false) await migrate(db);
  } catch (e) {
    if (ownsDb) await db.close();
    throw e;
  }
  let closed = false;
  return {
    db,
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDb) await db.close();
    },
  };
}
