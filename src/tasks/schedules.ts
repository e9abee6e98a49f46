/**
 * Recurring tasks: cron schedules stored in `task_schedules` (migration 013).
 *
 * Every dispatcher (option `schedules`, default on) evaluates the enabled schedules about once a
 * second with the database clock. A slot S is fired by
 *   UPDATE task_schedules SET last_slot = S WHERE name = $1 AND last_slot < S AND cron/timezone unchanged
 * and the task insert in the same transaction: however many workers evaluate the schedule, one
 * update wins and the others match no row, so each slot creates exactly one task.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Db, Queryable } from '../db/types.js';
import { invalidInput, isSeedCoreError, notFound } from '../errors.js';
import { assertSchema } from '../schema-check.js';
import { checkTimeZone, latestSlot, nextSlot, parseCron } from './cron.js';
import { TaskPrioritySchema } from './rows.js';
import { submitTasks } from './submit.js';
import type { TaskPriority } from './types.js';

const NonBlank = (description: string) => Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description });
const Timestamp = (description: string) => Type.Unsafe<Date>({ type: 'string', format: 'date-time', description });

/** A schedule name: the key of `task_schedules` (the HTTP path parameter). */
export const ScheduleNameSchema = NonBlank('Schedule name.');

/**
 * What a schedule says, apart from its name: the body of PUT /api/schedules/:name and the
 * options of `seedcore schedules set`.
 */
export const ScheduleFieldsSchema = Type.Object(
  {
    cron: NonBlank('5-field cron expression or macro (@hourly, @daily, …).'),
    timezone: Type.Optional(NonBlank('IANA time zone the cron fields are read in. Default UTC.')),
    type: NonBlank('Task type created on each slot.'),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Params of the created tasks, a JSON object. Default {}.' })),
    queue: Type.Optional(NonBlank('Queue of the created tasks. Default "default".')),
    priority: Type.Optional(TaskPrioritySchema),
    enabled: Type.Optional(Type.Boolean({ description: 'Default true.' })),
  },
  { additionalProperties: false, description: 'A schedule without its name.' },
);

/** One schedule to create or replace (the library's TaskSchedules.set). */
export const ScheduleInputSchema = Type.Object(
  { name: ScheduleNameSchema, ...ScheduleFieldsSchema.properties },
  { additionalProperties: false, description: 'A schedule to create or replace.' },
);

export type ScheduleInput = Static<typeof ScheduleInputSchema>;

/** A `task_schedules` row with its computed next slot: the library's ScheduleRow and the HTTP/CLI --json shape. */
export const ScheduleSchema = Type.Object(
  {
    name: Type.String(),
    cron: Type.String(),
    timezone: Type.String(),
    type: Type.String(),
    params: Type.Record(Type.String(), Type.Unknown()),
    queue: Type.String(),
    priority: TaskPrioritySchema,
    enabled: Type.Boolean(),
    last_slot: Timestamp('The latest slot fired, or the time the schedule was set/enabled (slots after it fire).'),
    last_task_id: Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'uuid', description: 'The task the latest slot created.' }),
    created_at: Timestamp('Creation time.'),
    updated_at: Timestamp('Last change.'),
    next_slot: Type.Unsafe<Date | null>({ type: ['string', 'null'], format: 'date-time', description: 'Next slot that will fire; null when disabled.' }),
  },
  { description: 'A schedule.' },
);

export type ScheduleRow = Static<typeof ScheduleSchema>;

/** Every schedule, as one page: the `{ items, nextCursor }` shape of every list (schedules are not paged, so nextCursor is null). */
export interface SchedulePage {
  items: ScheduleRow[];
  nextCursor: null;
}

const COLUMNS = 'name, cron, timezone, type, params, queue, priority::text AS priority, enabled, last_slot, last_task_id, created_at, updated_at';

/** Run a semantic check (cron syntax, time zone) and give its error the field's path, expected and got. */
function checked<T>(path: string, expected: string, value: string, check: (v: string) => T): T {
  try {
    return check(value);
  } catch (e) {
    if (!isSeedCoreError(e)) throw e;
    throw invalidInput(`${path}: expected ${expected}, got ${JSON.stringify(value)} (${e.message})`, { path, expected, got: JSON.stringify(value) });
  }
}

function withNext(r: Omit<ScheduleRow, 'next_slot'>): ScheduleRow {
  let next: Date | null = null;
  if (r.enabled) next = nextSlot(parseCron(r.cron), new Date(r.last_slot), r.timezone);
  return { ...r, next_slot: next };
}

export class TaskSchedules {
  constructor(private readonly db: Db) {}

  /**
   * Create or replace a schedule. A new schedule, or one whose cron or time zone changed,
   * fires from the next slot after now (never a past slot).
   */
  async set(input: ScheduleInput): Promise<ScheduleRow> {
    assertSchema(ScheduleInputSchema, input);
    const { name, cron } = input;
    checked('cron', 'a 5-field cron expression or a macro such as @daily', cron, parseCron);
    const timezone = checked('timezone', 'an IANA time zone such as UTC or Europe/Berlin', input.timezone ?? 'UTC', checkTimeZone);
    const { type } = input;
    const params = input.params ?? {};
    const queue = input.queue ?? 'default';
    const priority = input.priority ?? 'normal';
    const enabled = input.enabled ?? true;
    const res = await this.db.query<Omit<ScheduleRow, 'next_slot'>>(
      `INSERT INTO task_schedules AS s (name, cron, timezone, type, params, queue, priority, enabled)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::taskpriority, $8)
       ON CONFLICT (name) DO UPDATE
          SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, type = EXCLUDED.type, params = EXCLUDED.params,
              queue = EXCLUDED.queue, priority = EXCLUDED.priority, enabled = EXCLUDED.enabled, updated_at = now(),
              last_slot = CASE WHEN s.cron IS DISTINCT FROM EXCLUDED.cron OR s.timezone IS DISTINCT FROM EXCLUDED.timezone
                                 OR (EXCLUDED.enabled AND NOT s.enabled) THEN now() ELSE s.last_slot END
       RETURNING ${COLUMNS}`,
      [name, cron, timezone, type, JSON.stringify(params), queue, priority, enabled],
    );
    return withNext(res.rows[0] as Omit<ScheduleRow, 'next_slot'>);
  }

  /** Every schedule by name, with its next slot: the body of GET /api/schedules and `seedcore schedules list --json`. */
  async list(): Promise<SchedulePage> {
    const res = await this.db.query<Omit<ScheduleRow, 'next_slot'>>(`SELECT ${COLUMNS} FROM task_schedules ORDER BY name`);
    return { items: res.rows.map(withNext), nextCursor: null };
  }

  async get(name: string): Promise<ScheduleRow> {
    const res = await this.db.query<Omit<ScheduleRow, 'next_slot'>>(`SELECT ${COLUMNS} FROM task_schedules WHERE name = $1`, [name]);
    if (!res.rows[0]) throw notFound(`no schedule named '${name}'`);
    return withNext(res.rows[0]);
  }

  /** Enable (slots after now fire; missed ones do not) or disable a schedule. */
  async setEnabled(name: string, enabled: boolean): Promise<ScheduleRow> {
    const res = await this.db.query<Omit<ScheduleRow, 'next_slot'>>(
      `UPDATE task_schedules SET enabled = $2, updated_at = now(), last_slot = CASE WHEN $2 AND NOT enabled THEN now() ELSE last_slot END
        WHERE name = $1 RETURNING ${COLUMNS}`,
      [name, enabled],
    );
    if (!res.rows[0]) throw notFound(`no schedule named '${name}'`);
    return withNext(res.rows[0]);
  }

  async delete(name: string): Promise<void> {
    const res = await this.db.query('DELETE FROM task_schedules WHERE name = $1', [name]);
    if (res.rowCount === 0) throw notFound(`no schedule named '${name}'`);
  }

  /**
   * Fire every enabled schedule whose latest slot (≤ database now) is after its last_slot.
   * Safe to call from any number of processes at once. Returns what this call fired.
   */
  async fireDue(): Promise<{ name: string; slot: Date; taskId: string }[]> {
    return fireDueSlots(this.db, null);
  }
}

/**
 * Fire due slots, each in its own transaction, or (`within` given: the maintenance pass's
 * transaction) each under a savepoint, so one failing schedule does not keep the others from
 * firing.
 */
export async function fireDueSlots(
  db: Db,
  within: Queryable | null,
  onError: (e: unknown) => void = (e) => {
    throw e;
  },
): Promise<{ name: string; slot: Date; taskId: string }[]> {
  {
    const res = await (within ?? db).query<{ name: string; cron: string; timezone: string; last_slot: Date; now: Date }>(
      'SELECT name, cron, timezone, last_slot, now() AS now FROM task_schedules WHERE enabled ORDER BY name',
    );
    const fired: { name: string; slot: Date; taskId: string }[] = [];
    for (const s of res.rows) {
      let slot: Date | null;
      try {
        slot = latestSlot(parseCron(s.cron), new Date(s.last_slot), new Date(s.now), s.timezone);
      } catch {
        continue; // edited by hand into something invalid: skip, `schedules list` shows it
      }
      if (!slot) continue;
      const at = slot;
      let taskId: string | null = null;
      if (within) {
        await within.query('SAVEPOINT seedcore_schedule_slot');
        try {
          taskId = await fireSlot(within, db, s, at);
          await within.query('RELEASE SAVEPOINT seedcore_schedule_slot');
        } catch (e) {
          await within.query('ROLLBACK TO SAVEPOINT seedcore_schedule_slot');
          onError(e);
        }
      } else taskId = await db.transaction((tx) => fireSlot(tx, db, s, at));
      if (taskId) fired.push({ name: s.name, slot, taskId });
    }
    return fired;
  }
}

async function fireSlot(tx: Queryable, db: Db, s: { name: string; cron: string; timezone: string }, slot: Date): Promise<string | null> {
  const won = await tx.query<{ type: string; params: Record<string, unknown>; queue: string; priority: TaskPriority }>(
    `UPDATE task_schedules SET last_slot = $2, updated_at = now()
      WHERE name = $1 AND enabled AND last_slot < $2 AND cron = $3 AND timezone = $4
      RETURNING type, params, queue, priority::text AS priority`,
    [s.name, slot, s.cron, s.timezone],
  );
  const row = won.rows[0];
  if (!row) return null; // another worker fired this slot (or the schedule changed)
  const [task] = await submitTasks(
    db,
    [{ type: row.type, params: row.params, queue: row.queue, priority: row.priority, description: `schedule ${s.name} @ ${slot.toISOString()}` }],
    tx,
  );
  const id = (task as { id: string }).id;
  await tx.query('UPDATE task_schedules SET last_task_id = $2 WHERE name = $1', [s.name, id]);
  return id;
}

/** Runs fireDue() on an interval inside a dispatcher; one tick at a time. */
export class ScheduleRunner {
  private busy = false;
  private readonly schedules: TaskSchedules;

  constructor(
    db: Db,
    private readonly opts: { onError(e: unknown): void; onFired?(f: { name: string; slot: Date; taskId: string }[]): void },
  ) {
    this.schedules = new TaskSchedules(db);
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const fired = await this.schedules.fireDue();
      if (fired.length > 0) this.opts.onFired?.(fired);
    } catch (e) {
      this.opts.onError(e);
    } finally {
      this.busy = false;
    }
  }
}
