import pg from 'pg';
import { fromDbError, isConnectionError } from '../errors.js';
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

export interface PostgresOpenOptions {
  databaseUrl: string;
  /** Pool size. @defaultValue 10 */
  poolSize?: number;
  /** Sent as application_name, visible in pg_stat_activity. @defaultValue 'seedcore' */
  applicationName?: string;
}

/**
 * LISTEN on a dedicated connection that survives server restarts: when the connection drops
 * it reconnects with backoff and re-subscribes every channel. Notifications sent while it was
 * down are lost, which is why workers also poll.
 */
class Listener {
  private client: pg.Client | undefined;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private connecting: Promise<void> | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly config: pg.ClientConfig) {}

  async subscribe(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    const isNew = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(fn);
    await this.ensureConnected();
    if (isNew && this.client) await this.client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    return async () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) {
        this.handlers.delete(channel);
        await this.client?.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => undefined);
      }
    };
  }

  private ensureConnected(): Promise<void> {
    if (this.client) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.connect().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('notification', (msg) => {
      for (const fn of this.handlers.get(msg.channel) ?? []) fn(msg.payload ?? '');
    });
    const onDrop = (): void => {
      if (this.client === client) this.client = undefined;
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      this.scheduleReconnect(250);
    };
    client.on('error', onDrop);
    client.on('end', onDrop);
    await client.connect();
    for (const channel of this.handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    this.client = client;
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.stopped || this.retryTimer || this.handlers.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.ensureConnected().catch(() => this.scheduleReconnect(Math.min(delayMs * 2, 5000)));
    }, delayMs);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      await c.end().catch(() => undefined);
    }
  }
}

/** A PostgreSQL server through a node-postgres pool. */
export class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly pool: pg.Pool;
  private readonly listener: Listener;
  private closed = false;

  private constructor(options: PostgresOpenOptions) {
    const config: pg.PoolConfig = {
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      application_name: options.applicationName ?? 'seedcore',
      types: typeParsers,
      connectionTimeoutMillis: 10_000,
    };
    this.pool = new pg.Pool(config);
    // An idle client losing its connection (e.g. server restart) must not crash the process;
    // the pool drops it and the next query opens a fresh one.
    this.pool.on('error', () => undefined);
    this.listener = new Listener({ connectionString: options.databaseUrl, application_name: `${config.application_name}-listen`, types: typeParsers });
    this.description = redactUrl(options.databaseUrl);
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

  async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    try {
      return toResult(await this.pool.query<R>(sql, params as unknown[] | undefined));
    } catch (e) {
      throw fromDbError(e);
    }
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw fromDbError(e);
    }
    const tx: Tx = {
      async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
        try {
          return toResult(await client.query<R>(sql, params as unknown[] | undefined));
        } catch (e) {
          throw fromDbError(e);
        }
      },
      async exec(sql: string): Promise<void> {
        try {
          await client.query(sql);
        } catch (e) {
          throw fromDbError(e);
        }
      },
    };
    let broken = false;
    try {
      await tx.query('BEGIN');
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (e) {
      broken = isConnectionError(e) || isConnectionError((e as { cause?: unknown }).cause);
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
