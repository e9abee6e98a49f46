/**
 * The published package resolves for consumers: `npm pack` the tree as it would be
 * published, then let @arethetypeswrong/cli resolve the package name through its exports map
 * the way TypeScript does under node16 (from ESM) and bundler resolution, types and
 * JavaScript alike. The package is ESM-only, so the esm-only profile leaves out
 * `require()` from CommonJS (which can only `import()` it). A copy with one export path
 * pointing at a file that is not in the tarball must be reported (positive control).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ATTW = join(ROOT, 'node_modules', '.bin', 'attw');

interface PackedFile {
  path: string;
}

interface AttwReport {
  problems?: Record<string, { kind: string; entrypoint: string; resolutionKind?: string }[]>;
}

function run(cmd: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** attw over a tarball, offline: the package ships its own types, so no @types look-up. */
function attw(tarball: string): { status: number | null; report: AttwReport; text: string } {
  const r = run(ATTW, [tarball, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'json'], ROOT);
  return { status: r.status, report: JSON.parse(r.stdout) as AttwReport, text: r.stdout + r.stderr };
}

describe('the published package surface', () => {
  let dir: string;
  let tarball: string;
  let files: string[];
  let manifest: { main: string; types: string; bin: Record<string, string>; exports: Record<string, Record<string, string>> };

  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist', 'src', 'index.d.ts')), 'built (npm run build) before packing');
    dir = mkdtempSync(join(tmpdir(), 'seedcore-pack-'));
    const packed = run('npm', ['pack', '--json', '--pack-destination', dir], ROOT);
    assert.equal(packed.status, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: PackedFile[] }[];
    assert.ok(info);
    tarball = join(dir, info.filename);
    files = info.files.map((f) => f.path);
    manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as typeof manifest;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the tarball holds every file that main, types, bin and exports name', () => {
    const named = [manifest.main, manifest.types, ...Object.values(manifest.bin), ...Object.values(manifest.exports).flatMap((c) => Object.values(c))];
    for (const p of named) assert.ok(files.includes(p.replace(/^\.\//, '')), `${p} is packed`);
    assert.ok(files.includes('migrations/026_ensure_index_helper.sql'), 'the migrations are packed');
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('dist/test/')), 'no tests are packed');
  });

  it('attw: the exports map resolves to types and JavaScript under node16 and bundler', () => {
    const r = attw(tarball);
    assert.equal(r.status, 0, r.text);
  });

  it('positive control: an export path to a file that is not packed is reported', () => {
    // The same tarball with exports["."].types renamed to a missing file.
    const unpacked = join(dir, 'broken');
    assert.equal(run('mkdir', ['-p', unpacked], dir).status, 0);
    assert.equal(run('tar', ['-xzf', tarball, '-C', unpacked], dir).status, 0);
    const pkgPath = join(unpacked, 'package', 'package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as typeof manifest;
    const dot = pkg.exports['.'];
    assert.ok(dot);
    dot.types = './dist/src/no-such-index.d.ts';
    writeFileSync(pkgPath, JSON.stringify(pkg, null, 2));
    const broken = join(dir, 'broken.tgz');
    assert.equal(run('tar', ['-czf', broken, '-C', unpacked, 'package'], dir).status, 0);

    const r = attw(broken);
    assert.notEqual(r.status, 0, 'attw fails');
    const problems = Object.values(r.report.problems ?? {}).flat();
    for (const resolution of ['node16-esm', 'bundler']) {
      assert.ok(
        problems.some((p) => p.entrypoint === '.' && p.resolutionKind === resolution),
        `a problem under ${resolution}: ${JSON.stringify(problems)}`,
      );
    }
  });
});
