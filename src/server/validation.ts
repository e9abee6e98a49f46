/**
 * Request validation with TypeBox's compiler instead of Fastify's default Ajv set-up. Bodies
 * are checked strictly: no type coercion (`{"text": 42}` is an error, not "42") and unknown
 * fields are rejected where a schema says additionalProperties: false. Query strings and
 * path parameters arrive as text, so they are converted to the schema's types first
 * ("50" → 50, a single ?tag=x → ["x"]) and defaults are filled in.
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type ValueError } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';

function describe(e: ValueError): string {
  const where = e.path === '' ? '' : e.path.slice(1).replaceAll('/', '.');
  const options = (e.schema as { anyOf?: Array<{ const?: unknown }> }).anyOf;
  if (options && options.every((o) => o.const !== undefined)) {
    return `${where} must be one of ${options.map((o) => String(o.const)).join(', ')} (got ${JSON.stringify(e.value)})`;
  }
  if (e.message.startsWith('Unexpected property')) return `unknown field '${where}'`;
  return `${where ? `${where}: ` : ''}${e.message.toLowerCase()}`;
}

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const checker = TypeCompiler.Compile(schema);
  const part = httpPart ?? 'request';
  // A body schema marked 'x-optional-body' may be left out entirely (e.g. POST …/cancel).
  const optional = part === 'body' && (schema as { 'x-optional-body'?: boolean })['x-optional-body'] === true;
  return (data: unknown) => {
    if (optional && (data === undefined || data === null)) return { value: data };
    const value = part === 'body' ? Value.Default(schema, Value.Clone(data)) : Value.Default(schema, Value.Convert(schema, Value.Clone(data)));
    if (checker.Check(value)) return { value };
    const errors = [...checker.Errors(value)].slice(0, 5);
    const error = new Error(`invalid ${part}: ${errors.map(describe).join('; ')}`) as Error & { validation: unknown[]; statusCode: number };
    error.validation = errors.map((e) => ({ path: e.path, message: e.message }));
    error.statusCode = 400;
    return { error };
  };
};
