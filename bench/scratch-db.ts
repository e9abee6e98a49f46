/**
 * Scratch databases for server benchmarks: each run gets a fresh database on the server in
 * DATABASE_URL, dropped afterwards, so systems compared in one run start equal.
 */
import pg from 'pg';

/** The URL of database `name` on the same server as `base` (same credentials and options). */
export function databaseUrl(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Run one statement (CREATE/DROP DATABASE …) on its own connection to `base`. */
export async function adminStatement(base: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The raw batched completion both claim benchmarks use: compare-and-set on owner and status. */
export const RAW_COMPLETE = `
UPDATE tasks SET status = 'completed', result = '{}'::jsonb, error = NULL, owner_id = NULL, locked_by = NULL,
  locked_at = NULL, lease_expires_at = NULL, updated_at = now()
WHERE id = ANY($1::uuid[]) AND owner_id = $2 AND status = 'running'`;
