/** Debian's Python for the Python client's tests (the first python3 on PATH may be another build). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SERVER_URL } from './db.js';

export const PYTHON = '/usr/bin/python3';

/** Why the Python client cannot be tested here, or null when it can. */
export function pythonSkipReason(needPytest = true): string | null {
  if (!SERVER_URL) return 'DATABASE_URL is not set (the Python client needs the PostgreSQL server backend)';
  if (!existsSync(PYTHON)) return `${PYTHON} not found (apt-get install python3)`;
  const mods = needPytest ? 'import psycopg, pytest' : 'import psycopg';
  const r = spawnSync(PYTHON, ['-c', mods], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} cannot ${mods} (apt-get install python3-psycopg python3-pytest): ${r.stderr.trim().split('\n').pop()}`;
  return null;
}
