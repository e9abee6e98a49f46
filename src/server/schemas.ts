/** Schemas shared by several route modules. */
import { Type } from '@sinclair/typebox';

export { TaskPrioritySchema, TaskStatusSchema } from '../tasks/rows.js';

/**
 * A nullable string as `type: [string, null]` rather than anyOf: fast-json-stringify then
 * serialises it without running a validator per value (an anyOf costs one per field per
 * row), and @fastify/swagger turns it into OpenAPI 3.0's `nullable: true`.
 */
export const NullableString = (options: { format?: string; description?: string } = {}) => Type.Unsafe<string | null>({ type: ['string', 'null'], ...options });

/** A nullable integer, for the same reason. */
export const NullableInteger = () => Type.Unsafe<number | null>({ type: ['integer', 'null'] });

/** A timestamp: a Date in the library, ISO 8601 text on the wire. */
export const Timestamp = (options: { description?: string } = {}) => Type.Unsafe<Date | string>({ type: 'string', format: 'date-time', ...options });

/** A nullable timestamp, as `type: [string, null]` (see NullableString). */
export const NullableTimestamp = (options: { description?: string } = {}) =>
  Type.Unsafe<Date | string | null>({ type: ['string', 'null'], format: 'date-time', ...options });
