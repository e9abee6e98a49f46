/**
 * The examples in README.md and docs/*.md run as written, on a fresh database holding the demo
 * data that `seedcore serve` loads into an empty database, on both backends.
 *
 * Which fenced blocks are examples:
 * - ```bash / ```sh / ```shell / ```console: every line (continuations joined) that starts with
 *   `seedcore` or `npx seedcore` is run, unless it is a synopsis — outside quotes and comments
 *   it has a placeholder: `[--opt]`, `[options]`, `<arg>`, `…`, `a|b`, or an all-capitals word
 *   such as `TYPE` or `N`, or it starts a process that runs until signalled (`serve`,
 *   `worker`). It must exit 0 and print a result (not nothing, not "no … found",
 *   not `[]`), so an example that finds nothing on the demo data fails.
 * - ```ts / ```typescript: a block that imports from 'seedcore' and has no `…` outside `//`
 *   comments is a program; it is transpiled and run as an ES module and must exit 0.
 * Everything else (```text synopses, fragments without an import) is prose. Within a file the
 * examples run in document order; all files share one database per backend, README.md first.
 *
 * The examples of one file run in one child process, in order: a CLI line through the CLI's
 * `main()` (the code path of bin/seedcore.js, without a node start-up per line), a program by
 * importing it. Each CLI line on PGlite still opens the data directory (~0.5 s of CPU), which
 * is most of this file's time.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { PGliteDb } from '../src/db/index.js';
import { loadDemoData } from '../src/demo/load.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

interface CliStep {
  kind: 'cli';
  where: string;
  line: string;
}
interface ProgramStep {
  kind: 'ts';
  where: string;
  code: string;
}
type Step = CliStep | ProgramStep;
interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const SELF = fileURLToPath(import.meta.url);
const MAIN = new URL('../src/cli/main.js', import.meta.url).href;
const LIBRARY = new URL('../src/index.js', import.meta.url).href;

/** `line` without quoted strings and without a trailing comment. */
function bare(line: string): string {
  return line
    .replace(/'[^']*'|"(?:[^"\\]|\\.)*"/g, "''")
    .replace(/(^|\s)#.*$/, '')
    .trim();
}

/** The code of a block without its `//` comments (where `…` may abbreviate output). */
function withoutComments(body: string[]): string {
  return body.map((l) => l.replace(/(^|\s)\/\/.*$/, '')).join('\n');
}

export function isSynopsis(line: string): boolean {
  return /\[-|\[[a-z]|<[^>]*>|…|\||\b[A-Z][A-Z0-9_]*\b/.test(bare(line));
}

/** Commands that run until they are signalled: shown, never run here. */
const LONG_RUNNING = /^(npx )?seedcore\s+(?:--?\S+\s+(?:[^-\s]\S*\s+)?)*(serve|worker)\b/;

/** The examples of one markdown file, in document order. */
export function examples(file: string, text: string): Step[] {
  const steps: Step[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}```(\S*)/.exec(lines[i]!);
    if (!open) continue;
    const lang = open[1]!.toLowerCase();
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^ {0,3}```\s*$/.test(lines[end]!)) end++;
    const body = lines.slice(start, end);
    i = end;
    if (['bash', 'sh', 'shell', 'console'].includes(lang)) {
      for (let j = 0; j < body.length; j++) {
        const at = start + j + 1;
        let line = body[j]!;
        while (line.endsWith('\\') && j + 1 < body.length) line = `${line.slice(0, -1)} ${body[++j]!.trim()}`;
        line = line.replace(/^\$ /, '').trim();
        if (/^(npx )?seedcore(\s|$)/.test(line) && !isSynopsis(line) && !LONG_RUNNING.test(line)) steps.push({ kind: 'cli', where: `${file}:${at}`, line });
      }
    } else if ((lang === 'ts' || lang === 'typescript') && /from ['"]seedcore['"]/.test(body.join('\n')) && !withoutComments(body).includes('…')) {
      steps.push({ kind: 'ts', where: `${file}:${start}`, code: body.join('\n') });
    }
  }
  return steps;
}

function docFiles(): string[] {
  const docs = readdirSync(join(PACKAGE_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

/** Shell words of an example line (bash does the quoting; no globbing, no command runs). */
function words(line: string): string[] {
  const r = spawnSync('bash', ['-c', `set -f; printf '%s\\0' ${line}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `cannot split ${line}: ${r.stderr}`);
  const w = r.stdout.split('\0').slice(0, -1);
  if (w[0] === 'npx') w.shift();
  assert.equal(w.shift(), 'seedcore');
  return w;
}

function run(args: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}\nkilled by ${signal} after ${timeoutMs} ms` : stderr });
    });
  });
}

/** What the runner child does for one example. */
type RunnerStep = { cli: string[] } | { program: string };

/**
 * Child-process mode: run each step in this one process — a CLI line through the CLI's main()
 * (exit code from process.exitCode), a program by importing it (it fails if the import
 * rejects) — capturing what each writes, and write the results as JSON.
 */
async function runnerMain(spec: string): Promise<void> {
  const { steps, out } = JSON.parse(readFileSync(spec, 'utf8')) as { steps: RunnerStep[]; out: string };
  const { main } = (await import(MAIN)) as { main: (argv: string[]) => Promise<void> };
  const results: CliResult[] = [];
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  for (const step of steps) {
    const r: CliResult = { code: 0, stdout: '', stderr: '' };
    process.stdout.write = ((chunk: string | Uint8Array) => ((r.stdout += chunk.toString()), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => ((r.stderr += chunk.toString()), true)) as typeof process.stderr.write;
    process.exitCode = 0;
    try {
      if ('cli' in step) await main(['node', 'seedcore', ...step.cli]);
      else await import(pathToFileURL(step.program).href);
    } catch (e) {
      r.stderr += e instanceof Error ? (e.stack ?? e.message) : String(e);
      process.exitCode = 1;
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
    r.code = Number(process.exitCode ?? 0);
    results.push(r);
    writeFileSync(out, JSON.stringify(results)); // after each step, so a hang still reports the earlier ones
  }
  process.exit(0);
}

function describeFailure(step: Step, r: CliResult): string {
  const what = step.kind === 'cli' ? step.line : 'the library example';
  return `${step.where}: ${what}\nexit ${r.code}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;
}

function showsAResult(stdout: string): boolean {
  const s = stdout.trim();
  return s !== '' && s !== '[]' && !/^no \w+( \w+)?( found)?\.?$/i.test(s);
}

if (process.env.SEEDCORE_DOCS_RUNNER) {
  await runnerMain(process.env.SEEDCORE_DOCS_RUNNER);
} else {
  const files = docFiles();
  const all = files.map((f) => ({ file: f, steps: examples(f, readFileSync(join(PACKAGE_ROOT, f), 'utf8')) }));

  describe('docs examples: extraction', () => {
    it('finds CLI examples and library programs in README.md and docs/', () => {
      const steps = all.flatMap((f) => f.steps);
      assert.ok(steps.filter((s) => s.kind === 'cli').length >= 20, 'at least 20 CLI examples');
      assert.ok(steps.filter((s) => s.kind === 'ts').length >= 4, 'at least 4 library programs');
      assert.ok(
        all.find((f) => f.file === 'README.md')!.steps.some((s) => s.kind === 'ts'),
        'the README has a library program',
      );
    });

    it('tells synopses from examples', () => {
      for (const s of [
        'seedcore tasks get|cancel|retry <id>',
        'seedcore registry lookup LOGICAL_ID',
        'seedcore worker [--concurrency 8]',
        'seedcore knn --k N',
      ])
        assert.ok(isSynopsis(s), s);
      for (const s of ['seedcore serve', 'npx seedcore --data-dir ./d worker --concurrency 4', 'seedcore serve --port 0']) assert.ok(LONG_RUNNING.test(s), s);
      assert.ok(!LONG_RUNNING.test('seedcore tasks list --type worker'), '"worker" as an argument');
      for (const s of [
        "seedcore facts search 'postgresql | json' --json",
        'seedcore queues limit reports 2   # [0 pauses] <x>',
        `seedcore submit echo --params '{"A":1}'`,
      ])
        assert.ok(!isSynopsis(s), s);
    });
  });

  // The backends run side by side: each has its own database and its own child processes.
  describe('docs examples run', { concurrency: true }, () => {
    for (const kind of BACKENDS) {
      describe(`docs examples (${kind})`, { concurrency: false }, () => {
        let work: string;
        let env: NodeJS.ProcessEnv;
        let t: TestDb | undefined;

        let outcome: { results: CliResult[]; code: number; stderr: string } = { results: [], code: -1, stderr: 'the runner did not start' };
        const offsets = new Map<string, number>();

        // One runner process for every page, in order (README.md first): one start-up of the
        // CLI's modules instead of one per page.
        before(async () => {
          work = mkdtempSync(join(tmpdir(), 'seedcore-docs-'));
          env = { ...process.env, LOG_LEVEL: 'warn' };
          delete env.SEEDCORE_DOCS_RUNNER;
          if (kind === 'postgres') {
            t = await freshDb('postgres');
            await loadDemoData(t.db);
            env.DATABASE_URL = t.url;
            delete env.SEEDCORE_DATA_DIR;
          } else {
            // A data directory on disk (the CLI and the programs open it by path), started from
            // the migrated template the other tests use instead of initdb + migrations.
            const template = await freshDb('pglite');
            const tarball = await (template.db as PGliteDb).dump();
            await template.cleanup();
            const dataDir = join(work, 'data');
            const db = await PGliteDb.open({ dataDir, loadDataDir: tarball });
            try {
              await loadDemoData(db);
            } finally {
              await db.close();
            }
            delete env.DATABASE_URL;
            env.SEEDCORE_DATA_DIR = dataDir;
          }
          const cwd = join(work, 'cwd');
          mkdirSync(cwd);
          const runnerSteps: RunnerStep[] = [];
          for (const { file, steps } of all) {
            offsets.set(file, runnerSteps.length);
            steps.forEach((step, i) => {
              if (step.kind === 'cli') return runnerSteps.push({ cli: words(step.line) });
              const js = ts
                .transpileModule(step.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
                .outputText.replace(/from ['"]seedcore['"]/g, `from '${LIBRARY}'`);
              const program = join(work, `${file.replace(/\W/g, '-')}-${i}.mjs`);
              writeFileSync(program, js);
              return runnerSteps.push({ program });
            });
          }
          const spec = join(work, 'spec.json');
          const out = join(work, 'results.json');
          writeFileSync(spec, JSON.stringify({ steps: runnerSteps, out }));
          const r = await run([SELF], { ...env, SEEDCORE_DOCS_RUNNER: spec }, cwd, 300_000);
          const results = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as CliResult[]) : [];
          outcome = { results, code: r.code, stderr: r.stderr };
        });
        after(async () => {
          await t?.cleanup();
          rmSync(work, { recursive: true, force: true });
        });

        for (const { file, steps } of all) {
          if (steps.length === 0) continue;
          it(`${file}: ${steps.length} example(s) run`, () => {
            const first = offsets.get(file)!;
            steps.forEach((step, k) => {
              const res = outcome.results[first + k];
              const during = first + k === outcome.results.length ? ' during this step' : '';
              assert.ok(res, `${step.where}: did not run (the runner exited ${outcome.code}${during})\n${outcome.stderr.slice(-3000)}`);
              assert.equal(res.code, 0, describeFailure(step, res));
              if (step.kind === 'cli') assert.ok(showsAResult(res.stdout), `${describeFailure(step, res)}\n(the example prints no result on the demo data)`);
            });
          });
        }

        it('the runner finished', () => {
          assert.equal(outcome.code, 0, `the runner exited ${outcome.code}\n${outcome.stderr.slice(-3000)}`);
        });
      });
    }
  });
}
