/**
 * The dispatcher's hot-path statements go through here. A database that can prepare (the
 * server backend) decides by its `preparedStatements` setting whether to use a named
 * prepared statement (parsed and planned once per connection) or a plain one; anything else
 * (an open transaction, the embedded backend) runs a plain query. Named statements are off by
 * default because transaction-mode poolers cannot keep them (see src/db/settings.ts).
 */
import type { Queryable, QueryResult, Row } from '../db/types.js';

export async function prepared<R extends object = Row>(q: Queryable, name: string, sql: string, params: unknown[]): Promise<QueryResult<R>> {
  return q.prepared ? q.prepared<R>(name, sql, params) : q.query<R>(sql, params);
}
