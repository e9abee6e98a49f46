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
