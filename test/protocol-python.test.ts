/**
 * The Python client's own tests (clients/python/tests, pytest) against a fresh server database.
 * The Python client needs a PostgreSQL server: PGlite lives inside a Node process.
 * Skipped (with the reason) only when Debian's Python, psycopg 3 or pytest is missing; CI
 * installs python3-psycopg and python3-pytest, so it runs there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { freshDb } from './helpers/db.js';
import { ROOT } from './helpers/procs.js';
import { PYTHON, pythonSkipReason } from './helpers/python.js';

const skip = pythonSkipReason();

describe('Python client (pytest) on postgres', () => {
  it('passes its own test suite', { skip: skip ?? false, timeout: 120_000 }, async () => {
    const t = await freshDb('postgres');
    try {
      const pkg = resolve(ROOT, 'clients/python');
      const child = spawn(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
        cwd: pkg,
        env: { ...process.env, SEEDCORE_TEST_DATABASE_URL: t.url as string, PYTHONPATH: pkg, PYTHONDONTWRITEBYTECODE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      assert.equal(code, 0, `pytest failed:\n${out.slice(-6000)}`);
      assert.match(out, /\d+ passed/);
      assert.doesNotMatch(out, /skipped/, 'no Python test may skip when the database is given');
    } finally {
      await t.cleanup();
    }
  });
});
