import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CODES } from '../src/errors.js';
import { PACKAGE_ROOT } from '../src/paths.js';

describe('docs/errors.md', () => {
  const page = readFileSync(`${PACKAGE_ROOT}docs/errors.md`, 'utf8');

  it('documents every error code with its HTTP status and meaning', () => {
    const codes = Object.entries(ERROR_CODES);
    assert.ok(codes.length >= 14, `ERROR_CODES has ${codes.length} codes`);
    for (const [code, { status, description }] of codes) {
      const row = page.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      assert.ok(row, `${code} has no row in the table of docs/errors.md`);
      const cells = row.split('|').map((c) => c.trim());
      assert.equal(cells[2], String(status), `${code}: the HTTP status in docs/errors.md`);
      assert.equal(cells[4], description, `${code}: the meaning in docs/errors.md (it repeats ERROR_CODES[code].description)`);
    }
  });

  it('documents no code that does not exist', () => {
    const documented = [...page.matchAll(/^\| `(SEEDCORE_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.ok(documented.length > 0, 'the table was found');
    for (const code of documented) assert.ok(code! in ERROR_CODES, `docs/errors.md documents ${code}, which ERROR_CODES lacks`);
  });
});
