import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { fromDbError } from '../errors.js';
import { acquireDirLock, type DirLock } from './lockfile.js';
import type { Db, Queryable, QueryResult, Row, Tx } from './types.js';

interface PGliteLike {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
}

function toResult<R extends object>(res: { rows: R[]; affectedRows?: number }): QueryResult<R> {
  return { rows: res.rows, rowCount: res.rows.length > 0 ? res.rows.length : (res.affectedRows ?? 0) };
}

function queryable(target: PGliteLike): Queryable {
  return {
    async query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      try {
        return toResult(await target.query<R>(sql, params ? [...params] : undefined));
      } catch (e) {
        throw fromDbError(e);
      }
    },
  };
}

export interface PGliteOpenOptions {
  /** Persist here; `undefined` or 'memory://' keeps everything in memory. */
  dataDir?: string;
  /** A tarball made by `dumpDataDir()`, to start from (tests use it for cheap isolation). */
  loadDataDir?: Blob;
}

/** Embedded PostgreSQL (WASM) with pgvector, one session, guarded by a pid lock file. */
export class PGliteDb implements Db {
  readonly kind = 'pglite' as const;
  readonly description: string;
  /** The underlying PGlite instance, for advanced use (e.g. pglite-socket). */
  readonly pglite: PGlite;
  private readonly lock: DirLock | undefined;
  private closed = false;

  private constructor(pglite: PGlite, description: string, lock: DirLock | undefined) {
    this.pglite = pglite;
    this.description = description;
    this.lock = lock;
  }

  static async open(options: PGliteOpenOptions = {}): Promise<PGliteDb> {
    const inMemory = options.dataDir === undefined || options.dataDir.startsWith('memory://');
    const dir = inMemory ? undefined : resolve(options.dataDir as string);
    const lock = dir ? acquireDirLock(dir) : undefined;
    try {
      if (dir) mkdirSync(dir, { recursive: true });
      const pglite = await PGlite.create({
        ...(dir ? { dataDir: dir } : {}),
        ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
        extensions: { vector },
      });
      return new PGliteDb(pglite, dir ? `pglite:${dir}` : 'pglite:memory', lock);
    } catch (e) {
      lock?.release();
      throw fromDbError(e, `could not open the embedded database${dir ? ` in ${dir}` : ''}`);
    }
  }

  query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return queryable(this.pglite).query<R>(sql, params);
  }

  /** One session, no pooler: a plain query (PGlite plans are cheap and it keeps no named statements). */
  prepared<R extends object = Row>(_name: string, sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
    return this.query<R>(sql, params);
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    // PGlite serialises transactions with a mutex; fn's errors are rethrown unchanged.
    return this.pglite.transaction((tx: Transaction) =>
      fn({
        ...queryable(tx),
        async exec(sql: string): Promise<void> {
          try {
            await tx.exec(sql);
          } catch (e) {
            throw fromDbError(e);
          }
        },
      }),
    );
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.pglite.exec(sql);
    } catch (e) {
      throw fromDbError(e);
    }
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    const unsubscribe = await this.pglite.listen(channel, onNotify);
    return async () => {
      if (!this.closed) await unsubscribe();
    };
  }

  /** In-process notifications always arrive. */
  async notificationsWork(): Promise<boolean> {
    return !this.closed;
  }

  async isStandby(): Promise<boolean> {
    return false;
  }

  async schemaChanged(): Promise<void> {
    await this.pglite.refreshArrayTypes();
  }

  /** A tarball of the data directory (see PGliteOpenOptions.loadDataDir). */
  async dump(): Promise<Blob> {
    return this.pglite.dumpDataDir('none');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.pglite.close();
    } finally {
      this.lock?.release();
    }
  }
}
