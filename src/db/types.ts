/** The thin interface that hides the difference between PGlite and a PostgreSQL server. */

export type Row = Record<string, unknown>;

export interface QueryResult<R extends object = Row> {
  rows: R[];
  /** Rows returned by a SELECT or changed by INSERT/UPDATE/DELETE. */
  rowCount: number;
}

/** Anything that can run one parameterised statement: the database or an open transaction. */
export interface Queryable {
  query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /**
   * Run a hot-path statement as a named prepared statement when the connection is known to
   * allow it (a direct server connection with prepared statements switched on), else as a
   * plain query. Optional: callers go through `prepared()` in src/tasks/prepared.ts, which
   * falls back to `query` for anything without it (e.g. an open transaction).
   */
  prepared?<R extends object = Row>(name: string, sql: string, params: readonly unknown[]): Promise<QueryResult<R>>;
}

/** An open transaction: statements, plus multi-statement scripts (used by migrations). */
export interface Tx extends Queryable {
  exec(sql: string): Promise<void>;
}

export type BackendKind = 'pglite' | 'postgres';

export interface Db extends Queryable {
  readonly kind: BackendKind;
  /** Human-readable location (data directory or a URL without the password). */
  readonly description: string;
  /**
   * Run `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on throw). On PGlite transactions
   * are exclusive: every other caller waits until this one ends, so keep them short.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Run a multi-statement SQL script without parameters (simple query protocol). */
  exec(sql: string): Promise<void>;
  /**
   * Subscribe to NOTIFY on `channel`. The returned function unsubscribes. On the server the
   * listener holds its own connection and re-subscribes after the server restarts.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Whether notifications reach this process's `listen` handlers. On the server the listener
   * checks it by itself after LISTEN: it NOTIFYs a private probe channel through the normal
   * connection and waits briefly (behind a transaction-mode pooler such as PgBouncer, or on a
   * standby, nothing arrives). Resolves once that check is done (at most a few seconds; it
   * connects the listener if nothing listens yet). When false, rely on polling: the listener
   * has closed its connection and logged why once. Always true on the embedded backend.
   */
  notificationsWork(): Promise<boolean>;
  /**
   * True when the server is a read-only standby (`pg_is_in_recovery()`): reads work, writes,
   * migrations and LISTEN do not. Always false on the embedded backend.
   */
  isStandby(): Promise<boolean>;
  /**
   * Tell the backend the schema changed (e.g. after migrations). PGlite learns array types
   * once at start, so an enum created later (taskstatus[]) would not serialise as an array
   * parameter until this refreshes them; a no-op on the server.
   */
  schemaChanged(): Promise<void>;
  close(): Promise<void>;
}
