/** Small helpers for the task tests. */
import type { Db } from '../../src/db/types.js';
import { Dispatcher, type DispatcherOptions } from '../../src/tasks/dispatcher.js';

export { waitFor } from './wait.js';

export async function taskRow(
  db: Db,
  id: string,
): Promise<{ status: string; attempts: number; error: string | null; owner_id: string | null; result: unknown }> {
  const r = await db.query<{ status: string; attempts: number; error: string | null; owner_id: string | null; result: unknown }>(
    'SELECT status::text AS status, attempts, error, owner_id, result FROM tasks WHERE id = $1',
    [id],
  );
  const row = r.rows[0];
  if (!row) throw new Error(`task ${id} not found`);
  return row;
}

/** A started dispatcher with fast test timings; stop it with `await d.stop({ graceMs: 0 })`. */
export async function startDispatcher(db: Db, options: DispatcherOptions): Promise<Dispatcher> {
  const d = new Dispatcher(db, { pollIntervalMs: 50, leaseSeconds: 5, heartbeatSeconds: 1, recoverDeadOwners: true, ...options });
  await d.start();
  return d;
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
