/**
 * Task ids: UUIDv7 (RFC 9562), the layout of seedcore_uuidv7() in migration 023 — 48 bits of
 * Unix milliseconds, the version nibble 7, the variant bits 10, random bits elsewhere. Ids made
 * one after another are close in the primary key, so consecutive tasks share its pages.
 */
import { randomBytes } from 'node:crypto';

/** A new UUIDv7 in canonical text form. */
export function uuidv7(now: number = Date.now()): string {
  const b = randomBytes(16);
  // 48-bit big-endian millisecond timestamp (2 ** 48 ms lasts until the year 10889).
  b.writeUIntBE(Math.floor(now), 0, 6);
  b[6] = 0x70 | ((b[6] as number) & 0x0f);
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
