/**
 * One error family for the whole library. Every error SeedCore throws on purpose is a
 * SeedCoreError with a stable `code`; the HTTP layer maps `code` to a status, the CLI to an
 * exit code. Unknown throwables are wrapped once, at the boundary, with `cause` kept.
 */

/** Stable error codes, with the HTTP status they map to and what they mean. */
export const ERROR_CODES = {
  SEEDCORE_INVALID_INPUT: { status: 400, description: 'The input is malformed or out of range; nothing was written.' },
  SEEDCORE_UNAUTHORIZED: { status: 401, description: 'A bearer token is required (SEEDCORE_API_TOKEN is set) and was missing or wrong.' },
  SEEDCORE_FORBIDDEN: {
    status: 403,
    description: 'Refused without a token: the Host header does not name this server, or a state-changing request came from another origin.',
  },
  SEEDCORE_NOT_FOUND: { status: 404, description: 'The referenced task, fact, node, instance or migration does not exist.' },
  SEEDCORE_AMBIGUOUS_ID: { status: 409, description: 'An id prefix matches more than one row; give more characters.' },
  SEEDCORE_CONFLICT: {
    status: 409,
    description: 'The change conflicts with the current state (e.g. cancelling a finished task, an illegal status transition, a duplicate key).',
  },
  SEEDCORE_FENCED: {
    status: 409,
    description: 'A registry instance is dead or left behind by an epoch rotation; it must register again under a new instance id.',
  },
  SEEDCORE_DATA_DIR_LOCKED: { status: 503, description: 'Another process owns the embedded data directory; stop it or use a PostgreSQL server.' },
  SEEDCORE_MIGRATION_CHANGED: { status: 500, description: 'An already-applied migration file changed on disk (checksum mismatch); refusing to continue.' },
  SEEDCORE_MIGRATION_FAILED: { status: 500, description: 'A migration file failed to apply; its transaction was rolled back.' },
  SEEDCORE_VERIFY_FAILED: { status: 500, description: 'The live catalogue is missing objects the schema promises.' },
  SEEDCORE_UNAVAILABLE: { status: 503, description: 'The database is unreachable or shutting down; retry later.' },
  SEEDCORE_TIMEOUT: { status: 504, description: 'An operation exceeded its time limit.' },
  SEEDCORE_EVENT_TIMEOUT: { status: 504, description: 'A durable task waited for an event longer than its timeout (ctx.awaitEvent).' },
  SEEDCORE_CHILD_FAILED: { status: 424, description: 'A child task a durable task waited for failed or was cancelled (ctx.awaitTasks); details name it.' },
  SEEDCORE_DB_ERROR: { status: 500, description: 'The database rejected a statement for a reason not covered above (the cause is kept).' },
  SEEDCORE_INTERNAL: { status: 500, description: 'An unexpected error; a bug in SeedCore (the cause is kept).' },
} as const;

export type SeedCoreErrorCode = keyof typeof ERROR_CODES;

export interface SeedCoreErrorOptions {
  cause?: unknown;
  /** Machine-readable detail, e.g. the offending field. Safe to show to API clients. */
  details?: Record<string, unknown>;
}

export class SeedCoreError extends Error {
  readonly code: SeedCoreErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: SeedCoreErrorCode, message: string, options: SeedCoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SeedCoreError';
    this.code = code;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].status;
  }

  toJSON(): { code: SeedCoreErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export function isSeedCoreError(e: unknown, code?: SeedCoreErrorCode): e is SeedCoreError {
  return e instanceof SeedCoreError && (code === undefined || e.code === code);
}

export function invalidInput(message: string, details?: Record<string, unknown>): SeedCoreError {
  return new SeedCoreError('SEEDCORE_INVALID_INPUT', message, details ? { details } : {});
}

export function notFound(message: string, details?: Record<string, unknown>): SeedCoreError {
  return new SeedCoreError('SEEDCORE_NOT_FOUND', message, details ? { details } : {});
}

/** The SQLSTATE of a database error, if `e` carries one (both node-postgres and PGlite set `code`). */
export function sqlState(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * True for errors that mean "the connection or server went away, or will not take us now":
 * safe to retry later. 53300 (too_many_connections: max_connections, or a role's or
 * database's connection limit) is refused at connect and clears when others disconnect.
 */
export function isConnectionError(e: unknown): boolean {
  const state = sqlState(e);
  if (state && (state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03' || state === '53300')) return true;
  const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code: unknown }).code : undefined;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  const msg = e instanceof Error ? e.message : String(e);
  return /Connection terminated|connection (is )?closed|Client has encountered a connection error|terminating connection/i.test(msg);
}

/**
 * Wrap anything thrown by a database call into the error family, mapping well-known SQLSTATEs
 * (raised by our own SQL functions or by constraints) to stable codes. Idempotent.
 */
export function fromDbError(e: unknown, context?: string): SeedCoreError {
  if (e instanceof SeedCoreError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const text = context ? `${context}: ${msg}` : msg;
  const state = sqlState(e);
  if (isConnectionError(e)) return new SeedCoreError('SEEDCORE_UNAVAILABLE', text, { cause: e });
  // Class 22, data exception: the value itself is bad (a NUL byte, an out-of-range time,
  // invalid text for a type, wrong vector dimensions).
  if (state?.startsWith('22')) return new SeedCoreError('SEEDCORE_INVALID_INPUT', text, { cause: e });
  switch (state) {
    case '23502': // not_null_violation
    case '23514': // check_violation
    case '42883': // undefined_function (wrong argument types)
      return new SeedCoreError('SEEDCORE_INVALID_INPUT', text, { cause: e });
    case '23503': // foreign_key_violation: a referenced row is missing
    case 'P0002': // no_data_found
      return new SeedCoreError('SEEDCORE_NOT_FOUND', text, { cause: e });
    case '23505': // unique_violation
    case '55000': // object_not_in_prerequisite_state (e.g. illegal transition)
      return new SeedCoreError('SEEDCORE_CONFLICT', text, { cause: e });
    case '57014': // query_canceled (statement_timeout)
      return new SeedCoreError('SEEDCORE_TIMEOUT', text, { cause: e });
    default:
      return new SeedCoreError('SEEDCORE_DB_ERROR', text, { cause: e });
  }
}
