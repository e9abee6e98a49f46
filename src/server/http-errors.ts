/**
 * The one error shape of the HTTP API: `{"error": {"code", "message", "details"?}}`.
 * SeedCoreErrors keep their code and map to ERROR_CODES[code].status; Fastify's own errors
 * (validation, malformed JSON, body too large, unsupported media type) become
 * SEEDCORE_INVALID_INPUT with their 4xx status; anything else is a 500 SEEDCORE_INTERNAL whose
 * message does not leak internals (the cause is logged).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ERROR_CODES, SeedCoreError, fromDbError, isSeedCoreError, sqlState, type SeedCoreErrorCode } from '../errors.js';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'A stable SeedCore error code (see ERROR_CODES).' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'ErrorBody', description: 'Every error response has this shape.' },
);

export interface HttpError {
  status: number;
  body: { error: { code: SeedCoreErrorCode; message: string; details?: Record<string, unknown> } };
}

function body(code: SeedCoreErrorCode, message: string, details?: Record<string, unknown>): HttpError['body'] {
  return { error: details ? { code, message, details } : { code, message } };
}

// Their messages may quote SQL or internals: clients get a generic message, the log the cause.
const OPAQUE: ReadonlySet<SeedCoreErrorCode> = new Set(['SEEDCORE_DB_ERROR', 'SEEDCORE_INTERNAL']);

export function toHttpError(e: unknown): HttpError {
  // A raw database error that escaped a library is classified once, here, like the db layer does.
  if (!isSeedCoreError(e) && sqlState(e) !== undefined) e = fromDbError(e);
  if (isSeedCoreError(e)) {
    if (OPAQUE.has(e.code)) return { status: ERROR_CODES[e.code].status, body: body(e.code, 'internal error; see the server log') };
    return { status: ERROR_CODES[e.code].status, body: body(e.code, e.message, e.details) };
  }
  const fe = e as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation)) {
    return { status: 400, body: body('SEEDCORE_INVALID_INPUT', fe.message ?? 'invalid request', { validation: fe.validation }) };
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    // Malformed JSON (400), body too large (413), unsupported media type (415), empty JSON body …
    const message = fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body is too large' : (fe.message ?? 'bad request');
    return { status, body: body('SEEDCORE_INVALID_INPUT', message, fe.code ? { fastifyCode: fe.code } : undefined) };
  }
  return { status: 500, body: body('SEEDCORE_INTERNAL', 'internal error; see the server log') };
}

export function errorHandler(this: unknown, error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = toHttpError(error);
  if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.debug({ code: mapped.body.error.code, status: mapped.status }, mapped.body.error.message);
  void reply.status(mapped.status).send(mapped.body);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(404).send(body('SEEDCORE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
}

export { SeedCoreError };
