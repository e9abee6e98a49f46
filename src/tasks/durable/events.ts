/**
 * Emitting events to durable tasks from outside a handler (library, CLI, HTTP). The first
 * emit of a name wins; later emits change nothing and return false.
 */
import type { Queryable } from '../../db/types.js';
import { invalidInput } from '../../errors.js';
import { emitEvent } from './sql.js';

export const MAX_EVENT_NAME = 400;
/** Payloads are stored as jsonb; keep them small (they are read by every waiter). */
export const MAX_EVENT_PAYLOAD_BYTES = 1_000_000;

export function checkEventName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_EVENT_NAME) {
    throw invalidInput(`event name must be a string of 1 to ${MAX_EVENT_NAME} characters`, { field: 'name' });
  }
  return name;
}

function payloadJson(payload: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(payload === undefined ? null : payload);
  } catch (e) {
    throw invalidInput(`event payload is not JSON-serialisable: ${(e as Error).message}`, { field: 'payload' });
  }
  json ??= 'null';
  if (Buffer.byteLength(json) > MAX_EVENT_PAYLOAD_BYTES)
    throw invalidInput(`event payload is larger than ${MAX_EVENT_PAYLOAD_BYTES} bytes`, { field: 'payload' });
  if (json.includes('\\u0000')) throw invalidInput('event payload contains \\u0000, which PostgreSQL jsonb cannot store', { field: 'payload' });
  return json;
}

/** Emit `name` with `payload`: true when this call emitted it, false when it already had been. */
export async function emitTaskEvent(q: Queryable, name: string, payload?: unknown): Promise<boolean> {
  return emitEvent(q, checkEventName(name), payloadJson(payload));
}
