import pg from 'pg';
import { SeedCoreError, fromDbError, isConnectionError } from '../errors.js';
import { Listener, type DbLogger } from './listener.js';
import { isMaintenanceStatement, resolveConnectionSettings, type ConnectionSettings, type ResolvedConnectionSettings } from './settings.js';
import type { Db, QueryResult, Row, Tx } from './types.js';

// BIGINT (int8) and BIGINT[] as JS numbers, as PGlite returns them: node ids and counts stay
// far below 2^53, and one representation on both backends keeps callers simple.
const INT8 = 20;
const INT8_ARRAY = 1016;
function parseInt8Array(v: string): (number | null)[] {
  const body = v.slice(1, -1);
  return body === '' ? [] : body.split(',').map((x) => (x === 'NULL' ? null : Number(x)));
}
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8) return (v: string) => Number(v);
    if (oid === INT8_ARRAY) return parseInt8Array;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable url)';
  }
}

function toResult<R extends object>(res: pg.QueryResult<R>): QueryResult<R> {
  return { rows: res.rows, rowCount: res.rowCount ?? res.rows.length };
}

export interface PostgresOpenOptions extends ConnectionSettings {
  databaseUrl: string;
  /** Pool size. @defaultValue 10 */
  poolSize?: number;
  /** Sent as application_name, visible in pg_stat_activity. @defaultValue 'seedcore' */
  applicationName?: string;
  /** Where the connection layer reports, once, that notifications do not arrive. @defaultValue one JSON line on stderr */
  log?: DbLogger;
}

/** Pino-shaped JSON lines on stderr, for processes that did not pass a logger. */
const stderrLog: DbLogger = {
  warn: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, ...fields, msg })}\n`),
};

/** node-postgres reports its own reply timeout with this message. */
function isReadTimeout(e: unknown): boolean {
  return e instanceof Error && e.message === 'Query read timeout';
}

/** A PostgreSQL server (directly or through a pooler) through a node-postgres pool. */
export class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly pool: pg.Pool;
  /** The connection settings in effect (options over environment over defaults). */
  readonly settings: ResolvedConnectionSettings;
  private readonly listener: Listener;
  private closed = false;

  private constructor(options: PostgresOpenOptions) {
    const settings = resolveConnectionSettings(options);
    this.settings = settings;
    const appName = options.applicationName ?? 'seedcore';
    // No session state: nothing here may depend on one server connection living across
    // transactions (a transaction-mode pooler hands each transaction a different one).
    const common: pg.ClientConfig = {
      types: typeParsers,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      ...(settings.keepAliveMs > 0 ? { keepAlive: true, keepAliveInitialDelayMillis: settings.keepAliveMs } : {}),
      ...(settings.statementTimeoutMs > 0 ? { statement_timeout: settings.statementTimeoutMs } : {}),
    };
    this.pool = new pg.Pool({ ...common, connectionString: options.databaseUrl, max: options.poolSize ?? 10, application_name: appName });
    // An idle client losing its connection (e.g. server restart) must not crash the process;
    // the pool drops it and the next query opens a fresh one.
    this.pool.on('error', () => undefined);
    this.description = redactUrl(options.databaseUrl);
    const listenUrl = settings.listenUrl ?? options.databaseUrl;
    this.listener = new Listener({
      config: { ...common, connectionString: listenUrl, application_name: `${appName}-listen` },
      description: redactUrl(listenUrl),
      notify: async (channel) => {
        await this.query('SELECT pg_notify($1, $2)', [channel, 'probe']);
      },
      log: options.log ?? stderrLog,
    });
  }

  static async open(options: PostgresOpenOptions): Promise<PostgresDb> {
    const db = new PostgresDb(options);
    try {
      await db.query('SELECT 1');
    } catch (e) {
      await db.pool.end().catch(() => undefined);
      throw fromDbError(e, `could not connect to ${db.description}`);
    }
    return db;
  }

  /** The per-statement reply timeout (none for maintenance statements). */
  private timeoutFor(sql: string): number | undefined {
    const ms = this.settings.queryTimeoutMs;
    return ms > 0 && !isMaintenanceStatement(sql) ? ms : undefined;
  }

  private dbError(e: unknown): SeedCoreError {
    if (isReadTimeout(e))
      return new SeedCoreError(
        'SEEDCORE_UNAVAILABLE',
        `no reply from the database within ${this.settings.queryTimeoutMs} ms (SEEDCORE_QUERY_TIMEOUT_MS); the connection was discarded`,
        { cause: e },
      );
    return fromDbError(e);
  }

  async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    try {
      // On any error (a reply timeout included) the pool discards the client instead of reusing it.
      const config: pg.QueryConfig = { text: sql, values: params as unknown[] | undefined, query_timeout: this.timeoutFor(sql) } as pg.QueryConfig;
      return toResult(await this.pool.query<R>(config));
    } catch (e) {
      throw this.dbError(e);
    }
  }

  /**
   * A named prepared statement when `preparedStatements` is on, else an unnamed one (parsed
   * per call, which every pooler handles). The name is per connection: each pooled
   * connection prepares it on first use.
   */
  async prepared<R extends object = Row>(name: string, sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
    if (!this.settings.preparedStatements) return this.query<R>(sql, params);
    try {
      const config = { name: `seedcore_${name}`, text: sql, values: params as unknown[], query_timeout: this.timeoutFor(sql) } as pg.QueryConfig;
      return toResult(await this.pool.query<R>(config));
    } catch (e) {
      throw this.dbError(e);
    }
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw fromDbError(e);
    }
    let broken = false;
    const tx: Tx = {
      query: async <R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
        try {
          return toResult(await client.query<R>({ text: sql, values: params as unknown[] | undefined, query_timeout: this.timeoutFor(sql) } as pg.QueryConfig));
        } catch (e) {
          // A statement without a reply may still be running on this connection: never reuse it.
          if (isReadTimeout(e)) broken = true;
          throw this.dbError(e);
        }
      },
      exec: async (sql: string): Promise<void> => {
        try {
          await client.query(sql);
        } catch (e) {
          throw this.dbError(e);
        }
      },
    };
    try {
      await tx.query('BEGIN');
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (e) {
      broken ||= isConnectionError(e) || isConnectionError((e as { cause?: unknown }).cause);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw e;
    } finally {
      // A client whose connection broke must not go back to the pool.
      client.release(broken ? true : undefined);
    }
  }

  async exec(sql: string): Promise<void> {
    // node-postgres uses the simple query protocol when there are no parameters, which
    // accepts several statements in one string (and then returns an array of results).
    try {
      await this.pool.query(sql);
    } catch (e) {
      throw fromDbError(e);
    }
  }

  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    return this.listener.subscribe(channel, onNotify);
  }

  notificationsWork(): Promise<boolean> {
    return this.listener.working();
  }

  async isStandby(): Promise<boolean> {
    const r = await this.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
    return r.rows[0]?.standby === true;
  }

  async schemaChanged(): Promise<void> {
    // node-postgres sends arrays as text literals that the server casts: nothing to refresh.
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.pool.end();
  }
}
