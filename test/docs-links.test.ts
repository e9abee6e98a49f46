/**
 * Every relative link in README.md, CONTRIBUTING.md, CHANGELOG.md and docs/*.md points at a
 * file that exists, and a `#fragment` at a heading of that file (GitHub's slugs: lower case,
 * punctuation dropped, spaces to dashes).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../src/paths.js';

export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Heading slugs of a markdown text, outside fenced blocks, with GitHub's -1, -2 for repeats. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^ {0,3}```/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function pages(): string[] {
  const docs = readdirSync(join(PACKAGE_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', ...docs].filter((f) => existsSync(join(PACKAGE_ROOT, f)));
}

describe('docs links', () => {
  it('computes the slugs GitHub gives headings', () => {
    assert.equal(slug('Task queue: `npm run bench:queue`'), 'task-queue-npm-run-benchqueue');
    assert.equal(slug('Tasks and dispatching'), 'tasks-and-dispatching');
    assert.deepEqual([...anchors('# A\n## A\n```\n# not a heading\n```\n### B c')], ['a', 'a-1', 'b-c']);
  });

  it('every relative link and fragment resolves', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of pages()) {
      const text = readFileSync(join(PACKAGE_ROOT, page), 'utf8').replace(/^ {0,3}```[\s\S]*?^ {0,3}```/gm, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
        checked++;
        const [path, fragment] = target.split('#') as [string, string | undefined];
        const file = path === '' ? page : normalize(join(dirname(page), path));
        if (!existsSync(join(PACKAGE_ROOT, file))) {
          broken.push(`${page}: ${target} (no file ${file})`);
          continue;
        }
        if (fragment && file.endsWith('.md') && !anchors(readFileSync(join(PACKAGE_ROOT, file), 'utf8')).has(fragment)) {
          broken.push(`${page}: ${target} (no heading #${fragment} in ${file})`);
        }
      }
    }
    assert.ok(checked > 30, `checked ${checked} links`);
    assert.deepEqual(broken, []);
  });
});
