#!/usr/bin/env node
// Runs the compiled test files with node's test runner. Test files may be narrowed with
// arguments (paths relative to dist/test or substrings): `npm test -- tasks`.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.test.js')) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
const selected = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (selected.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
console.error(`backends: pglite${process.env.DATABASE_URL ? ' + postgres' : ' (set DATABASE_URL to also test the server)'}; ${selected.length} test files`);
const concurrency = process.env.SEEDCORE_TEST_CONCURRENCY ?? '2';
const res = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...selected.sort()], { stdio: 'inherit' });
process.exit(res.status ?? 1);
