import { invalidInput } from '../errors.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_TEXT_LENGTH = 100_000;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function checkText(text: unknown): string {
  if (typeof text !== 'string' || text.trim() === '') throw invalidInput('fact text must be a non-empty string', { field: 'text' });
  if (text.length > MAX_TEXT_LENGTH) throw invalidInput(`fact text is longer than ${MAX_TEXT_LENGTH} characters`, { field: 'text' });
  return text;
}

export function checkTags(tags: unknown, field = 'tags'): string[] {
  if (!Array.isArray(tags)) throw invalidInput(`${field} must be an array of strings`, { field });
  const out: string[] = [];
  for (const t of tags) {
    if (typeof t !== 'string' || t.trim() === '') throw invalidInput(`${field} must contain non-empty strings`, { field });
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

export function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidInput(`${field} must be a JSON object`, { field });
  return value as Record<string, unknown>;
}

export function checkUuid(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || !isUuid(id)) throw invalidInput(`${field} must be a uuid (got ${JSON.stringify(id)})`, { field });
  return id.toLowerCase();
}
