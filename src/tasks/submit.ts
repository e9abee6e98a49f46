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

const INSERT_SQL = `INSERT INTO tasks (id, type, params, description, domain, drift_score, run_after, status)
          SELECT x.id, x.type, x.params, x.description, x.domain, x.drift_score, x.run_after, x.status::taskstatus
            FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::float8[], $7::timestamptz[], $8::text[])
                 WITH ORDINALITY AS x(id, type, params, description, domain, drift_score, run_after, status, ord)
           ORDER BY x.ord
          RETURNING ${TASK_COLUMNS}`;

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
  ];
}

/** Order RETURNING rows like the input (unnest … ORDER BY does not bind RETURNING order). */
function inInputOrder(rows: TaskRow[], ids: string[]): TaskRow[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) as TaskRow);
}

export async function submitTasks(db: Db, inputs: unknown, tx?: Queryable): Promise<TaskRow[]> {
  const tasks = normaliseBatch(inputs);
  const ids = tasks.map((t) => t.id ?? randomUUID());
  const simple = tasks.every((t) => t.dependsOn.length === 0 && t.agentId === null && t.organId === null);
  if (simple) {
    const params = insertParams(
      tasks,
      ids,
      tasks.map(() => 'queued'),
    );
    // The common case (not in a transaction of the caller's) runs as a named prepared statement.
    const res = tx ? await tx.query<TaskRow>(INSERT_SQL, params) : await prepared<TaskRow>(db, 'submit', INSERT_SQL, params);
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
  const inserted = await tx.query<TaskRow>(INSERT_SQL, insertParams(tasks, ids, statuses));
  const src: string[] = [];
  const dst: string[] = [];
  tasks.forEach((t, i) => {
    for (const d of t.dependsOn) {
      src.push(ids[i] as string);
      dst.push(d);
    }
  });
  if (src.length > 0) {
    await tx.query('INSERT INTO task_depends_on_task (src_task_id, dst_task_id) SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING', [
      src,
      dst,
    ]);
  }
  await bindOwners(tx, tasks, ids);
  return inInputOrder(inserted.rows, ids);
}

/** Agent and organ bindings through the seed's edge tables (registering agent/organ rows if new). */
async function bindOwners(tx: Queryable, tasks: NormalisedTask[], ids: string[]): Promise<void> {
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
    await tx.query('INSERT INTO agent_registry (agent_id) SELECT DISTINCT a FROM unnest($1::text[]) a ORDER BY a ON CONFLICT DO NOTHING', [agents]);
    await tx.query('INSERT INTO task_owned_by_agent (task_id, agent_id) SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING', [
      agentTask,
      agents,
    ]);
  }
  if (organs.length > 0) {
    await tx.query(
      `INSERT INTO organ_registry (organ_id, agent_id)
       SELECT DISTINCT ON (o) o, a FROM unnest($1::text[], $2::text[]) AS x(o, a) ORDER BY o, a NULLS LAST
       ON CONFLICT DO NOTHING`,
      [organs, organAgent],
    );
    await tx.query('INSERT INTO task_executed_by_organ (task_id, organ_id) SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING', [
      organTask,
      organs,
    ]);
  }
}
