/**
 * The one description of a `tasks` row: the TypeBox schema below is the library's TaskRow
 * type, the column list every query selects, the HTTP response schema and the OpenAPI `Task`
 * component. A new column is one new property here (a test compares it with the table).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TASK_PRIORITIES, TASK_STATUSES } from './types.js';

export const TaskStatusSchema = Type.Union(
  TASK_STATUSES.map((s) => Type.Literal(s)),
  { description: 'Task status.' },
);

export const TaskPrioritySchema = Type.Union(
  TASK_PRIORITIES.map((p) => Type.Literal(p)),
  { description: 'Task priority: critical, high, normal or low.' },
);

/*
 * Nullable values as `type: [T, null]` rather than anyOf: fast-json-stringify then serialises
 * them without running a validator per value (an anyOf costs one per field per row), and
 * @fastify/swagger turns them into OpenAPI 3.0's `nullable: true`. Timestamps are Dates in the
 * library and ISO 8601 text on the wire.
 */
const nullable = <T>(type: 'string' | 'integer' | 'number', options: Record<string, unknown> = {}) =>
  Type.Unsafe<T | null>({ type: [type, 'null'], ...options });
const Timestamp = (description: string) => Type.Unsafe<Date>({ type: 'string', format: 'date-time', description });
const NullableTimestamp = (description: string) => nullable<Date>('string', { format: 'date-time', description });

export const TaskSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: TaskStatusSchema,
    attempts: Type.Integer({ description: 'Executions started.' }),
    type: Type.String({ description: 'Task type; selects the handler.' }),
    params: Type.Record(Type.String(), Type.Unknown(), { description: 'Handler input.' }),
    description: nullable<string>('string'),
    domain: nullable<string>('string'),
    drift_score: Type.Number(),
    run_after: NullableTimestamp('Not claimed before this time.'),
    result: Type.Unknown({ description: "The handler's result (JSON), once completed." }),
    error: nullable<string>('string'),
    locked_by: nullable<string>('string'),
    locked_at: NullableTimestamp('When the current owner claimed it.'),
    owner_id: nullable<string>('string', { description: 'Worker instance running it.' }),
    lease_expires_at: NullableTimestamp('The running owner must renew its lease by then.'),
    last_heartbeat: NullableTimestamp('Last lease renewal.'),
    created_at: Timestamp('Submission time.'),
    updated_at: Timestamp('Last change.'),
    priority: TaskPrioritySchema,
    queue: Type.String({ description: 'Named queue; workers serve a list of queues.' }),
    max_attempts: nullable<number>('integer', { description: "Executions allowed; null: the dispatcher's default." }),
    timeout_seconds: nullable<number>('number', { description: "Handler timeout; null: the dispatcher's per-type default." }),
    dedup_key: nullable<string>('string', { description: 'While a live task holds this key, submitting it again returns that task.' }),
    expires_at: NullableTimestamp("Not started by then: cancelled with error 'expired'."),
    waiting_for: nullable<string>('string', { description: "What a suspended durable task waits for: 'sleep', 'event:NAME' or 'tasks:N'." }),
    parent_id: nullable<string>('string', { format: 'uuid', description: 'The durable task that spawned this one.' }),
    requires: Type.Unsafe<string[] | null>({
      type: ['array', 'null'],
      items: { type: 'string' },
      description: "Capability constraints a claiming organ must meet ('name' or 'name>=min', sorted by name); null: none.",
    }),
    route_organ: nullable<string>('string', { description: 'Organ the task is routed to while that organ is live (organId at submission); null: none.' }),
  },
  { description: 'A task row.' },
);

export type TaskRow = Static<typeof TaskSchema>;

/** Columns whose SQL type is an enum: selected as text so both backends return a plain string. */
const AS_TEXT: ReadonlySet<string> = new Set(['status', 'priority']);

/** The column names of TaskSchema, in order. */
export const TASK_COLUMN_NAMES: readonly string[] = Object.keys(TaskSchema.properties);

/** Column list matching TaskRow, for `SELECT ${TASK_COLUMNS} FROM tasks` and `RETURNING`. */
export const TASK_COLUMNS = TASK_COLUMN_NAMES.map((c) => (AS_TEXT.has(c) ? `${c}::text AS ${c}` : c)).join(', ');

/** `{ items, nextCursor }`: the one page shape of every list, in the library, over HTTP and in CLI --json. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: nullable<string>('string', { description: 'Pass as `cursor` for the next page; null on the last page.' }),
  });
