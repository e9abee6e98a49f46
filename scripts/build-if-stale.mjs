#!/usr/bin/env node
// `npm start`'s prestart: compile only when dist/ is missing or older than the sources, so a
// start (or a restart by a process manager) does not spend seconds in tsc for nothing.
// Stale when some src/**/*.ts has no dist/src/**/*.js or is newer than it, or when
// tsconfig.json or package.json changed after the oldest output.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function* sources(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

function staleReason() {
  let oldestOutput = Infinity;
  for (const src of sources(join(root, 'src'))) {
    const out = join(root, 'dist', relative(root, src)).replace(/\.ts$/, '.js');
    if (!existsSync(out)) return `${relative(root, out)} is missing`;
    const outTime = statSync(out).mtimeMs;
    if (statSync(src).mtimeMs > outTime) return `${relative(root, src)} changed`;
    oldestOutput = Math.min(oldestOutput, outTime);
  }
  for (const f of ['tsconfig.json', 'package.json']) if (statSync(join(root, f)).mtimeMs > oldestOutput) return `${f} changed`;
  return undefined;
}

const reason = staleReason();
if (reason) {
  process.stderr.write(`building (${reason})\n`);
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
