/**
 * Task submissions: the one TypeBox schema of a task input (used by the library, the HTTP
 * routes and the OpenAPI document) and the checks that span rows (duplicate ids,
 * self-dependencies, cycles). Unknown fields, wrong types and malformed ids are rejected with
 * SEEDCORE_INVALID_INPUT naming the field before anything is written.
 */
import { Type, type Static } from '@sinclair/typebox';
import { invalidInput } from '../errors.js';
import { assertSchema, isTimestamp, isUuid } from '../schema-check.js';
import { TaskPrioritySchema } from './rows.js';
import type { TaskPriority } from './types.js';

export { isUuid };

/** Most tasks in one submission (library, HTTP and CLI alike). */
export const MAX_BATCH = 10_000;

const NonBlank = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, pattern: '\\S', description });
const Uuid = (description: string) => Type.String({ format: 'uuid', description });
const NullableText = (max: number, description: string) => Type.Union([Type.String({ maxLength: max }), Type.Null()], { description });
const NullableTimestamp = (description: string) => Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description });

/** One task to submit: every field a client may set, from any face. */
export const TaskInputSchema = Type.Object(
  {
    id: Type.Optional(Uuid('Client-chosen id, so tasks of one batch can depend on each other.')),
    type: NonBlank(200, 'Task type; selects the handler.'),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Handler input, a JSON object. Default {}.' })),
    description: Type.Optional(NullableText(100_000, 'Free text.')),
    domain: Type.Optional(NullableText(200, 'Routing domain.')),
    drift_score: Type.Optional(Type.Number({ description: 'OCPS valve input: 0.0 = fast path, >= 0.5 = escalate. Default 0.' })),
    run_after: Type.Optional(NullableTimestamp('Not claimed before this time (ISO 8601).')),
    dependsOn: Type.Optional(
      Type.Array(Uuid('A task id.'), { maxItems: 1000, description: 'Ids of tasks this one waits for: existing tasks or tasks of the same batch.' }),
    ),
    agentId: Type.Optional(NonBlank(200, 'Owning agent (registered if new).')),
    organId: Type.Optional(NonBlank(200, 'Executing organ (registered if new); only it claims the task while it is live.')),
    requires: Type.Optional(
      Type.Array(
        Type.Union([
          Type.String({ minLength: 1, maxLength: 230, description: "'name' or 'name>=minVersion', e.g. 'summarize>=2'." }),
          Type.Object(
            {
              capability: NonBlank(200, 'Capability name.'),
              minVersion: Type.Optional(
                Type.String({ minLength: 1, maxLength: 89, description: "Lowest acceptable version (dotted numbers, e.g. '2', '1.4.0')." }),
              ),
            },
            { additionalProperties: false },
          ),
        ]),
        { maxItems: 32, description: 'Capabilities a claiming organ must provide (at least at minVersion); only such organs claim the task.' },
      ),
    ),
    priority: Type.Optional(Type.Union([TaskPrioritySchema, Type.Null()], { description: 'critical, high, normal or low. Default normal.' })),
    queue: Type.Optional(Type.Union([NonBlank(200, 'Named queue.'), Type.Null()], { description: 'Named queue. Default "default".' })),
    max_attempts: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 1000 }), Type.Null()], { description: "Executions allowed; default the dispatcher's maxAttempts." }),
    ),
    timeout_seconds: Type.Optional(
      // setTimeout's ceiling (2^31 - 1 ms): a longer timer would fire at once.
      Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 2_147_483 }), Type.Null()], {
        description: "Handler timeout in seconds; default the dispatcher's per-type timeout.",
      }),
    ),
    dedup_key: Type.Optional(
      Type.Union([NonBlank(500, 'Deduplication key.'), Type.Null()], {
        description: 'While a created/queued/running/retry task holds this key, submitting another returns that task.',
      }),
    ),
    expires_at: Type.Optional(NullableTimestamp("Not started by then: cancelled with error 'expired'.")),
  },
  { additionalProperties: false, description: 'A task to submit.' },
);

/** One task or an array of up to MAX_BATCH submitted in one transaction. */
export const TaskSubmissionSchema = Type.Union([TaskInputSchema, Type.Array(TaskInputSchema, { minItems: 1, maxItems: MAX_BATCH })], {
  description: `One task, or an array of up to ${MAX_BATCH} submitted in one transaction.`,
});

/** The names of every task input field (the CLI maps each to an option). */
export const TASK_INPUT_FIELDS: readonly string[] = Object.keys(TaskInputSchema.properties);

type WireInput = Static<typeof TaskInputSchema>;

/** One task to submit; timestamps may also be Dates in the library. */
export type SubmitTaskInput = Omit<WireInput, 'run_after' | 'expires_at'> & {
  run_after?: Date | string | null | undefined;
  expires_at?: Date | string | null | undefined;
};

/** A submission after validation, with every field normalised. */
export interface NormalisedTask {
  id: string | null;
  type: string;
  params: Record<string, unknown>;
  description: string | null;
  domain: string | null;
  drift_score: number;
  run_after: string | null;
  dependsOn: string[];
  agentId: string | null;
  organId: string | null;
  /** Capability constraints, canonical ('name' or 'name>=min'), sorted by name; null: none. */
  requires: string[] | null;
  priority: TaskPriority;
  queue: string;
  max_attempts: number | null;
  timeout_seconds: number | null;
  dedup_key: string | null;
  expires_at: string | null;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
}

/** A Date or strict ISO 8601 text (within PostgreSQL's and JavaScript's range) as ISO text. */
export function parseTimestamp(where: string, name: string, v: unknown): string {
  const ok = v instanceof Date ? !Number.isNaN(v.getTime()) && v.getUTCFullYear() >= 1 && v.getUTCFullYear() <= 9999 : typeof v === 'string' && isTimestamp(v);
  const path = where ? `${where}.${name}` : name;
  if (!ok)
    throw invalidInput(`${path}: expected an ISO 8601 timestamp (e.g. 2026-01-31T12:00:00Z), got ${JSON.stringify(v instanceof Date ? 'Invalid Date' : v)}`, {
      path,
      expected: 'an ISO 8601 timestamp',
      got: String(v),
    });
  return (v instanceof Date ? v : new Date(v as string)).toISOString();
}

function normaliseOne(raw: unknown, where: string): NormalisedTask {
  // Dates are the library's convenience; the schema speaks JSON.
  const t: Record<string, unknown> = isPlainObject(raw) ? { ...raw } : (raw as Record<string, unknown>);
  if (isPlainObject(raw)) {
    for (const k of ['run_after', 'expires_at']) {
      const v = t[k];
      if (v instanceof Date) t[k] = parseTimestamp(where, k, v);
    }
  }
  assertSchema(TaskInputSchema, t, where);
  const input = t as WireInput;
  const runAfter = input.run_after == null ? null : parseTimestamp(where, 'run_after', input.run_after);
  const expiresAt = input.expires_at == null ? null : parseTimestamp(where, 'expires_at', input.expires_at);
  if (expiresAt !== null && runAfter !== null && expiresAt <= runAfter)
    throw invalidInput(`${where ? `${where}.` : ''}expires_at must be later than run_after (the window would be empty)`, {
      path: where ? `${where}.expires_at` : 'expires_at',
      expected: `a time after run_after (${runAfter})`,
      got: expiresAt,
    });
  try {
    JSON.stringify(input.params ?? {});
  } catch (e) {
    throw invalidInput(`params is not JSON-serialisable: ${(e as Error).message}`, { path: where ? `${where}.params` : 'params' });
  }
  return {
    id: input.id === undefined ? null : input.id.toLowerCase(),
    type: input.type,
    params: (input.params ?? {}) as Record<string, unknown>,
    description: input.description ?? null,
    domain: input.domain ?? null,
    drift_score: input.drift_score ?? 0,
    run_after: runAfter,
    dependsOn: [...new Set((input.dependsOn ?? []).map((d) => d.toLowerCase()))],
    agentId: input.agentId ?? null,
    organId: input.organId ?? null,
    requires: normaliseRequires(where, input.requires),
    priority: input.priority ?? 'normal',
    queue: input.queue ?? 'default',
    max_attempts: input.max_attempts ?? null,
    timeout_seconds: input.timeout_seconds ?? null,
    dedup_key: input.dedup_key ?? null,
    expires_at: expiresAt,
  };
}

const CAPABILITY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$/;
const VERSION = /^[0-9]{1,9}(\.[0-9]{1,9}){0,7}$/;

/**
 * Parse one capability constraint: 'name', 'name>=min' or { capability, minVersion? }.
 * Versions are dotted numbers. Returns [name, min | null].
 */
export function parseConstraint(path: string, c: unknown): [string, string | null] {
  let name: unknown;
  let min: unknown = null;
  if (typeof c === 'string') {
    const at = c.indexOf('>=');
    name = at < 0 ? c : c.slice(0, at);
    min = at < 0 ? null : c.slice(at + 2);
  } else if (isPlainObject(c)) {
    name = c.capability;
    min = c.minVersion ?? null;
  }
  if (typeof name !== 'string' || !CAPABILITY_NAME.test(name))
    throw invalidInput(`${path}: expected a capability name (letters, digits, _ . : / -) as 'name' or 'name>=version', got ${JSON.stringify(c)}`, {
      path,
      expected: "'name' or 'name>=version'",
      got: JSON.stringify(c),
    });
  if (min !== null && (typeof min !== 'string' || !VERSION.test(min)))
    throw invalidInput(`${path}: expected a dotted-number version (e.g. 2, 1.4.0), got ${JSON.stringify(min)}`, {
      path,
      expected: 'a dotted-number version',
      got: JSON.stringify(min),
    });
  return [name, min as string | null];
}

/** requires → canonical constraints sorted by name (null when none); a capability listed twice is refused. */
function normaliseRequires(where: string, list: unknown[] | undefined): string[] | null {
  if (list === undefined || list.length === 0) return null;
  const base = where ? `${where}.requires` : 'requires';
  const byName = new Map<string, string | null>();
  list.forEach((c, i) => {
    const [name, min] = parseConstraint(`${base}[${i}]`, c);
    if (byName.has(name))
      throw invalidInput(`${base}[${i}]: capability '${name}' is required twice`, { path: `${base}[${i}]`, expected: 'each capability once', got: name });
    byName.set(name, min);
  });
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, m]) => (m === null ? n : `${n}>=${m}`));
}

/**
 * Validate a batch: every task, duplicate ids, self-dependencies and cycles among the tasks
 * of the batch (a new task can only be depended on by tasks of its own batch, so a cycle can
 * only form there).
 */
export function normaliseBatch(inputs: unknown): NormalisedTask[] {
  if (!Array.isArray(inputs)) throw invalidInput('tasks must be an array', { path: 'tasks', expected: 'an array', got: typeof inputs });
  if (inputs.length === 0) throw invalidInput('at least one task is required', { path: 'tasks', expected: 'at least 1 task', got: 'an empty array' });
  if (inputs.length > MAX_BATCH)
    throw invalidInput(`at most ${MAX_BATCH} tasks per submission`, { path: 'tasks', expected: `at most ${MAX_BATCH} tasks`, got: `${inputs.length}` });
  const tasks = inputs.map((t, i) => normaliseOne(t, inputs.length === 1 ? '' : String(i)));
  const byId = new Map<string, number>();
  tasks.forEach((t, i) => {
    if (t.id === null) return;
    if (byId.has(t.id)) throw invalidInput(`${i}.id: duplicate id ${t.id} in the batch`, { path: `${i}.id`, expected: 'an id unique in the batch', got: t.id });
    byId.set(t.id, i);
  });
  tasks.forEach((t, i) => {
    if (t.id !== null && t.dependsOn.includes(t.id))
      throw invalidInput(`${i}.dependsOn: a task cannot depend on itself`, { path: `${i}.dependsOn`, expected: 'ids of other tasks', got: t.id });
  });
  // Cycle check over in-batch edges (depth-first, iterative colouring).
  const colour = new Array<number>(tasks.length).fill(0);
  const visit = (start: number): void => {
    const stack: { node: number; next: number }[] = [{ node: start, next: 0 }];
    colour[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { node: number; next: number };
      const deps = (tasks[top.node] as NormalisedTask).dependsOn;
      if (top.next >= deps.length) {
        colour[top.node] = 2;
        stack.pop();
        continue;
      }
      const dep = byId.get(deps[top.next++] as string);
      if (dep === undefined) continue;
      if (colour[dep] === 1)
        throw invalidInput(`dependency cycle among the submitted tasks (through ${(tasks[dep] as NormalisedTask).id})`, { path: 'dependsOn' });
      if (colour[dep] === 0) {
        colour[dep] = 1;
        stack.push({ node: dep, next: 0 });
      }
    }
  };
  for (let i = 0; i < tasks.length; i++) if (colour[i] === 0) visit(i);
  return tasks;
}
