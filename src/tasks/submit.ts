/**
 * Task submission: one statement for plain tasks, one short transaction when dependencies or
 * agent/organ bindings are involved. Everything is validated first; on any error nothing is
 * written.
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable, Tx } from '../db/types.js';
import { SeedCoreError, notFound } from '../errors.js';
import { prepared } from './prepared.js';
import { TASK_COLUMNS, type TaskRow } from './rows.js';
import { normaliseBatch, type NormalisedTask } from './validate.js';

/**
 * Dedup conflict policy: a task whose dedup_key matches a created/queued/running/retry task is
 * not inserted (ON CONFLICT on idx_tasks_dedup DO NOTHING); the submission returns the existing
 * task instead, unchanged (its own dependsOn/agentId/organId are ignored).
 */
function insertSql(): string {
  // requires travels as one text per task (constraints joined by ','; NULL: none): unnest
  // cannot take an array of arrays of different lengths.
  return `INSERT INTO tasks (id, type, params, description, domain, drift_score, run_after, status,
                             priority, queue, max_attempts, timeout_seconds, dedup_key, expires_at, requires, route_organ)
          SELECT x.id, x.type, x.params, x.description, x.domain, x.drift_score, x.run_after, x.status::taskstatus,
                 x.priority::taskpriority, x.queue, x.max_attempts, x.timeout_seconds, x.dedup_key, x.expires_at,
                 string_to_array(x.requires, ','), x.route_organ
            FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::float8[], $7::timestamptz[], $8::text[],
                        $9::text[], $10::text[], $11::int[], $12::float8[], $13::text[], $14::timestamptz[], $15::text[], $16::text[])
                 WITH ORDINALITY AS x(id, type, params, description, domain, drift_score, run_after, status,
                                      priority, queue, max_attempts, timeout_seconds, dedup_key, expires_at, requires, route_organ, ord)
           ORDER BY x.ord
              ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND status IN ('created', 'queued', 'running', 'retry') DO NOTHING
          RETURNING ${TASK_COLUMNS}`;
}

const PLAIN_INSERT = `INSERT INTO tasks (id, type, params, description, domain, drift_score, run_after, status)
          SELECT x.id, x.type, x.params, x.description, x.domain, x.drift_score, x.run_after, x.status::taskstatus
            FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::float8[], $7::timestamptz[], $8::text[])
                 WITH ORDINALITY AS x(id, type, params, description, domain, drift_score, run_after, status, ord)
           ORDER BY x.ord
          RETURNING ${TASK_COLUMNS}`;

function isPlain(t: NormalisedTask): boolean {
  return (
    t.priority === 'normal' && t.queue === 'default' && t.max_attempts === null && t.timeout_seconds === null && t.dedup_key === null && t.expires_at === null
  );
}

function insertParams(tasks: NormalisedTask[], ids: string[], statuses: string[]): unknown[] {
  return [
    ids,
    tasks.map((t) => t.type),
    tasks.map((t) => JSON.stringify(t.params)),
    tasks.map((t) => t.description),
    tasks.map((t) => t.domain),
    tasks.map((t) => t.drift_score),
    tasks.map((t) => t.run_after),
    statuses,
    tasks.map((t) => t.priority),
    tasks.map((t) => t.queue),
    tasks.map((t) => t.max_attempts),
    tasks.map((t) => t.timeout_seconds),
    tasks.map((t) => t.dedup_key),
    tasks.map((t) => t.expires_at),
    tasks.map((t) => (t.requires === null ? null : t.requires.join(','))),
    // An organ bound through this API routes the task (while the organ is live; migration 021).
    tasks.map((t) => t.organId),
  ];
}

/**
 * Insert the tasks; for each input return the row inserted, or the live task holding its
 * dedup_key. A holder can end between the conflict and the look-up: those inputs are inserted
 * again (a few rounds).
 */
async function insertDedup(q: Queryable, tasks: NormalisedTask[], ids: string[], statuses: string[]): Promise<TaskRow[]> {
  const out = new Array<TaskRow | undefined>(tasks.length);
  let pending = tasks.map((_, i) => i);
  for (let round = 0; pending.length > 0; round++) {
    const batch = pending.map((i) => tasks[i] as NormalisedTask);
    const res = await q.query<TaskRow>(
      insertSql(),
      insertParams(
        batch,
        pending.map((i) => ids[i] as string),
        pending.map((i) => statuses[i] as string),
      ),
    );
    const byId = new Map(res.rows.map((r) => [r.id, r]));
    const missing = pending.filter((i) => {
      const row = byId.get(ids[i] as string);
      if (row) out[i] = row;
      return !row;
    });
    if (missing.length === 0) break;
    const keys = [...new Set(missing.map((i) => (tasks[i] as NormalisedTask).dedup_key as string))];
    const live = await q.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM tasks WHERE dedup_key = ANY($1::text[]) AND status IN ('created', 'queued', 'running', 'retry')`,
      [keys],
    );
    const byKey = new Map(live.rows.map((r) => [r.dedup_key as string, r]));
    pending = missing.filter((i) => {
      const row = byKey.get((tasks[i] as NormalisedTask).dedup_key as string);
      if (row) out[i] = row;
      return !row;
    });
    if (round >= 5 && pending.length > 0) throw new SeedCoreError('SEEDCORE_CONFLICT', 'dedup_key contention: could not insert or find the live task');
  }
  return out as TaskRow[];
}

/** Order RETURNING rows like the input (unnest … ORDER BY does not bind RETURNING order). */
function inInputOrder(rows: TaskRow[], ids: string[]): TaskRow[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) as TaskRow);
}

export async function submitTasks(db: Db, inputs: unknown, tx?: Queryable): Promise<TaskRow[]> {
  const tasks = normaliseBatch(inputs);
  // Random (v4) ids unless the caller gives one: a short prefix (8 hex digits) then names one
  // task. Time-ordered ids (uuidv7() in ids.ts, the column default since migration 023) are
  // cheaper to claim and complete but share their first 8–12 characters with every task
  // created in the same minute; callers that want them pass them as ids.
  const ids = tasks.map((t) => t.id ?? randomUUID());
  const simple = tasks.every((t) => t.dependsOn.length === 0 && t.agentId === null && t.organId === null && t.requires === null);
  if (simple) {
    const statuses = tasks.map(() => 'queued');
    if (tasks.some((t) => t.dedup_key !== null)) return insertDedup(tx ?? db, tasks, ids, statuses);
    // Plain tasks (every 013 field at its default) keep the narrower 8-array insert: bulk
    // submission is a hot path. Outside a caller's transaction it runs as a named prepared statement.
    const plain = tasks.every(isPlain);
    const sql = plain ? PLAIN_INSERT : insertSql();
    const params = plain ? insertParams(tasks, ids, statuses).slice(0, 8) : insertParams(tasks, ids, statuses);
    const res = tx ? await tx.query<TaskRow>(sql, params) : await prepared<TaskRow>(db, plain ? 'submit' : 'submit_full', sql, params);
    return inInputOrder(res.rows, ids);
  }
  if (tx) return submitInTx(tx, tasks, ids);
  return db.transaction((t: Tx) => submitInTx(t, tasks, ids));
}

async function submitInTx(tx: Queryable, tasks: NormalisedTask[], ids: string[]): Promise<TaskRow[]> {
  const batchIds = new Set(ids);
  const external = [...new Set(tasks.flatMap((t) => t.dependsOn.filter((d) => !batchIds.has(d))))];
  const depStatus = new Map<string, string>();
  if (external.length > 0) {
    // FOR SHARE: a dependency cannot finish while this transaction adds edges to it, so its
    // completion (or failure) sees the new edges and propagates to the new tasks.
    const res = await tx.query<{ id: string; status: string }>(
      'SELECT id, status::text AS status FROM tasks WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE',
      [external],
    );
    for (const r of res.rows) depStatus.set(r.id, r.status);
    const missing = external.filter((d) => !depStatus.has(d));
    if (missing.length > 0) throw notFound(`dependency task(s) not found: ${missing.join(', ')}`, { missing });
    const dead = external.filter((d) => depStatus.get(d) === 'failed' || depStatus.get(d) === 'cancelled');
    if (dead.length > 0)
      throw new SeedCoreError(
        'SEEDCORE_CONFLICT',
        `cannot depend on task(s) that ended failed or cancelled: ${dead.map((d) => `${d} (${depStatus.get(d)})`).join(', ')}`,
        {
          details: { dependencies: dead },
        },
      );
  }
  const statuses = tasks.map((t) => (t.dependsOn.every((d) => depStatus.get(d) === 'completed') ? 'queued' : 'created'));
  const rows = await insertDedup(tx, tasks, ids, statuses);
  // A deduplicated input is the existing task: it gets no new edges, and in-batch references
  // to its client id point at the existing task.
  const actual = new Map(ids.map((id, i) => [id, (rows[i] as TaskRow).id]));
  const fresh = rows.map((r, i) => r.id === ids[i]);
  const src: string[] = [];
  const dst: string[] = [];
  tasks.forEach((t, i) => {
    if (!fresh[i]) return;
    for (const d of t.dependsOn) {
      src.push(ids[i] as string);
      dst.push(actual.get(d) ?? d);
    }
  });
  if (src.length > 0) {
    await tx.query('INSERT INTO task_depends_on_task (src_task_id, dst_task_id) SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING', [
      src,
      dst,
    ]);
  }
  await bindOwners(
    tx,
    tasks.filter((_, i) => fresh[i]),
    ids.filter((_, i) => fresh[i]),
  );
  return rows;
}

/**
 * Agent and organ bindings through the edge tables task_owned_by_agent and
 * task_executed_by_organ (registering agent/organ rows if new), and required capabilities as
 * task_uses_capability edges with their minimum version (registering capabilities if new).
 * The agent, organ and capability rows and the capability edges belong to the graph: they are
 * written by its functions of migration 030 (graph_register_agents, graph_register_organs,
 * graph_link_task_capabilities); the two binding edge tables are the task area's own.
 */
async function bindOwners(tx: Queryable, tasks: NormalisedTask[], ids: string[]): Promise<void> {
  const capTask: string[] = [];
  const capNames: string[] = [];
  const capMins: (string | null)[] = [];
  tasks.forEach((t, i) => {
    for (const c of t.requires ?? []) {
      const at = c.indexOf('>=');
      capTask.push(ids[i] as string);
      capNames.push(at < 0 ? c : c.slice(0, at));
      capMins.push(at < 0 ? null : c.slice(at + 2));
    }
  });
  if (capTask.length > 0) {
    await tx.query('SELECT graph_link_task_capabilities($1::uuid[], $2::text[], $3::text[])', [capTask, capNames, capMins]);
  }
  const agentTask: string[] = [];
  const agents: string[] = [];
  const organTask: string[] = [];
  const organs: string[] = [];
  const organAgent: (string | null)[] = [];
  tasks.forEach((t, i) => {
    if (t.agentId !== null) {
      agentTask.push(ids[i] as string);
      agents.push(t.agentId);
    }
    if (t.organId !== null) {
      organTask.push(ids[i] as string);
      organs.push(t.organId);
      organAgent.push(t.agentId);
    }
  });
  if (agents.length > 0) {
    await tx.query('SELECT graph_register_agents($1::text[])', [agents]);
    await tx.query('INSERT INTO task_owned_by_agent (task_id, agent_id) SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING', [
      agentTask,
      agents,
    ]);
  }
  if (organs.length > 0) {
    await tx.query('SELECT graph_register_organs($1::text[], $2::text[])', [organs, organAgent]);
    await tx.query('INSERT INTO task_executed_by_organ (task_id, organ_id) SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING', [
      organTask,
      organs,
    ]);
  }
}
