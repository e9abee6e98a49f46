/**
 * Named prepared statements for the dispatcher's hot path on the server: parse and plan once
 * per connection instead of once per call (planning a claim costs about as much as running a
 * small one). Inside a transaction or on PGlite this is a plain query.
 */
import { PostgresDb } from '../db/postgres.js';
import type { Queryable, QueryResult, Row } from '../db/types.js';
import { fromDbError } from '../errors.js';

export async function prepared<R extends object = Row>(q: Queryable, name: string, sql: string, params: unknown[]): Promise<QueryResult<R>> {
  if (!(q instanceof PostgresDb)) return q.query<R>(sql, params);
  try {
    const res = await q.pool.query<R>({ name: `seedcore_${name}`, text: sql, values: params });
    return { rows: res.rows, rowCount: res.rowCount ?? res.rows.length };
  } catch (e) {
    throw fromDbError(e);
  }
}
