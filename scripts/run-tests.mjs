#!/usr/bin/env node
// Runs the compiled test files with node's test runner, in two phases:
//   1. every ordinary test file, two at a time;
//   2. files that disrupt the shared PostgreSQL server (named *-pg-restart* or *.serial.*),
//      one at a time, after everything else, so their restarts cannot break other tests.
// Narrow the run with arguments (substrings of paths): `npm test -- tasks registry`.
// Ends with one combined line: "tests: N passed, N failed, N skipped".
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
const selected = (filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files).sort();
if (selected.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const isSerial = (f) => /-pg-restart|\.serial\./.test(f);
const phases = [
  { files: selected.filter((f) => !isSerial(f)), concurrency: process.env.SEEDCORE_TEST_CONCURRENCY ?? '2' },
  { files: selected.filter(isSerial), concurrency: '1' },
].filter((p) => p.files.length > 0);

console.error(`backends: pglite${process.env.DATABASE_URL ? ' + postgres' : ' (set DATABASE_URL to also test the server)'}; ${selected.length} test files`);
const tmp = mkdtempSync(join(tmpdir(), 'seedcore-tests-'));
const totals = { pass: 0, fail: 0, skipped: 0, cancelled: 0 };
let failed = false;
phases.forEach((phase, i) => {
  const tap = join(tmp, `phase${i}.tap`);
  const res = spawnSync(
    process.execPath,
    ['--test', `--test-concurrency=${phase.concurrency}`, '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...phase.files],
    { stdio: 'inherit' },
  );
  if (res.status !== 0) failed = true;
  const text = readFileSync(tap, 'utf8');
  for (const key of ['pass', 'fail', 'cancelled']) {
    const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text);
    if (m) totals[key] += Number(m[1]);
  }
  // node's "# skipped" leaves out skipped suites (describe(…, { skip })); count the SKIP
  // directives themselves, tests and suites alike.
  totals.skipped += (text.match(/^\s*ok \d+ - .* # SKIP\b/gm) ?? []).length;
});
rmSync(tmp, { recursive: true, force: true });
if (totals.cancelled > 0) failed = true;
console.log(`tests: ${totals.pass} passed, ${totals.fail + totals.cancelled} failed, ${totals.skipped} skipped`);
process.exit(failed ? 1 : 0);
