/**
 * Advisory-lock keys: the migrations and the code take only the keys of src/advisory-locks.ts,
 * no two names share a key, and docs/architecture.md lists every one. Static checks over the
 * files themselves; what each lock serialises is tested where it is taken (e.g. the
 * reconciler's in registry-client.test.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ADVISORY_LOCKS } from '../src/advisory-locks.js';
import { PACKAGE_ROOT } from '../src/paths.js';

const KEYS = new Set<number>(Object.values(ADVISORY_LOCKS));
/** The first argument of every pg_[try_]advisory_[xact_]lock[_shared](…) call with a literal key. */
const LITERAL_LOCK = /pg_(?:try_)?advisory_(?:xact_)?lock(?:_shared)?\(\s*(\d[\d_]*)/g;

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(join(PACKAGE_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ext))
    .map((f) => join(dir, f));
}

function literalKeys(file: string): number[] {
  const text = readFileSync(join(PACKAGE_ROOT, file), 'utf8');
  return [...text.matchAll(LITERAL_LOCK)].map((m) => Number(m[1]!.replaceAll('_', '')));
}

describe('advisory-lock keys', () => {
  it('no two names share a key', () => {
    assert.equal(KEYS.size, Object.keys(ADVISORY_LOCKS).length);
  });

  it('the migrations take only listed keys, and every key of the migrations is found', () => {
    const found = new Map<number, string[]>();
    for (const file of filesUnder('migrations', '.sql')) for (const key of literalKeys(file)) found.set(key, [...(found.get(key) ?? []), file]);
    // Positive control: the keys the stored functions and triggers are known to take.
    for (const name of ['epochRotation', 'insertNotify', 'durableEvent', 'durableChildren', 'factGroup'] as const)
      assert.ok(found.has(ADVISORY_LOCKS[name]), `${name} (${ADVISORY_LOCKS[name]}) was not found in migrations/`);
    for (const [key, files] of found) assert.ok(KEYS.has(key), `key ${key} in ${files.join(', ')} is not in src/advisory-locks.ts`);
  });

  it('the code takes its keys from src/advisory-locks.ts, never as a literal', () => {
    const own = 'src/advisory-locks.ts';
    const offenders: string[] = [];
    for (const file of [...filesUnder('src', '.ts'), ...filesUnder('test', '.ts'), ...filesUnder('bench', '.ts')]) {
      if (file === own || file === 'test/schema-lock-keys.test.ts') continue;
      const text = readFileSync(join(PACKAGE_ROOT, file), 'utf8');
      if (literalKeys(file).length > 0) offenders.push(`${file}: a literal advisory-lock key`);
      for (const key of KEYS)
        if (key > 1000 && new RegExp(`\\b${key.toLocaleString('en').replaceAll(',', '_?')}\\b`).test(text)) offenders.push(`${file}: ${key}`);
    }
    assert.deepEqual(offenders, []);
    // Positive control: the same scan finds the keys where they are defined.
    const text = readFileSync(join(PACKAGE_ROOT, own), 'utf8');
    assert.ok(text.includes('727_361_001') && /\b727_?361_?001\b/.test(text));
  });

  it('docs/architecture.md lists every key', () => {
    const page = readFileSync(join(PACKAGE_ROOT, 'docs/architecture.md'), 'utf8');
    for (const [name, key] of Object.entries(ADVISORY_LOCKS))
      assert.ok(page.includes(`| \`${key}\` |`) || page.includes(`| \`(${key}, `), `${name} (${key}) has no row in the table of docs/architecture.md`);
  });
});
