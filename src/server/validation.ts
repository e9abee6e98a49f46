/**
 * Request validation with TypeBox's compiler instead of Fastify's default Ajv set-up, through
 * the same checks the library runs (src/schema-check.ts), so an error names the field with
 * `path`, `expected` and `got` whichever face it came through. Bodies are checked strictly: no
 * type coercion (`{"text": 42}` is an error, not "42") and unknown fields are rejected where a
 * schema says additionalProperties: false. Query strings and path parameters arrive as text,
 * so they are converted to the schema's types first ("50" → 50, a single ?tag=x → ["x"]) and
 * defaults are filled in. NUL characters and deep nesting are refused before any of that.
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { TObject, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SeedCoreError, isSeedCoreError } from '../errors.js';
import { assertSchema, scanInput } from '../schema-check.js';

/** A body that may be left out entirely (e.g. POST …/cancel): handlers then see `{}`. */
export function OptionalBody<T extends TObject>(schema: T): T {
  return { ...schema, 'x-optional-body': true };
}

const PART: Record<string, string> = { body: 'body', querystring: 'query', params: 'path parameters', headers: 'headers' };

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const part = httpPart ?? 'body';
  const optional = part === 'body' && (schema as { 'x-optional-body'?: boolean })['x-optional-body'] === true;
  return (data: unknown) => {
    // A validator that throws becomes a 500 in Fastify: every failure is returned instead.
    try {
      if (optional && (data === undefined || data === null)) return { value: {} };
      if (part === 'body') {
        assertSchema(schema, data);
        return { value: Value.Default(schema, data) };
      }
      // Query and params: scanned for NUL before conversion, then converted and checked.
      scanInput(data);
      const value = Value.Default(schema, Value.Convert(schema, data));
      assertSchema(schema, value);
      return { value };
    } catch (e) {
      const where = PART[part] ?? part;
      if (isSeedCoreError(e)) {
        const error = new SeedCoreError('SEEDCORE_INVALID_INPUT', `invalid ${where}: ${e.message}`, { details: { in: where, ...(e.details ?? {}) } });
        return { error };
      }
      return { error: new SeedCoreError('SEEDCORE_INVALID_INPUT', `invalid ${where}: ${(e as Error).message}`, { details: { in: where } }) };
    }
  };
};
