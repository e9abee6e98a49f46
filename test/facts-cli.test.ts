import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from './helpers/db.js';
import { cliDatabase, runCli, type CliDatabase, type CliResult } from './helpers/cli.js';

interface Hit {
  id: string;
  text: string;
  tags: string[];
  rank: number;
  snippet: string;
}

for (const kind of BACKENDS) {
  describe(`facts CLI (${kind})`, () => {
    let d: CliDatabase | undefined;
    let target: string[];
    before(async () => {
      d = await cliDatabase(kind);
      target = d.target;
    });
    after(async () => d?.cleanup());
    // Each CLI start on PGlite costs seconds, so only what the CLI adds is checked here
    // (argument parsing, JSON shape, exit codes); search semantics are in facts-search.
    const cli = (...args: string[]): Promise<CliResult> => runCli([...target, ...args]);

    it('add, search --json (best first, with rank and snippet), tag filter, ambiguous prefix, delete', async () => {
      const added = await cli(
        '--json',
        'facts',
        'add',
        'Lighthouses guide ships past dangerous rocks; lighthouse keepers trim lamps',
        '--tag',
        'sea',
        '--meta',
        '{"src":"cli"}',
      );
      assert.equal(added.code, 0, added.stderr);
      const fact = JSON.parse(added.stdout) as { id: string; tags: string[]; meta_data: unknown };
      assert.deepEqual(fact.tags, ['sea']);
      assert.deepEqual(fact.meta_data, { src: 'cli' });
      const found = await cli('facts', 'search', 'lighthouse', '--tag', 'sea', '--tag', 'other', '--limit', '5', '--json');
      assert.equal(found.code, 0, found.stderr);
      // --json prints the body of GET /api/facts: the one page shape.
      const page = JSON.parse(found.stdout) as { items: Hit[]; nextCursor: string | null };
      assert.equal(page.nextCursor, null);
      const hits = page.items;
      assert.deepEqual(
        hits.map((h) => h.id),
        [fact.id],
      );
      assert.ok((hits[0]?.rank ?? 0) > 0);
      assert.match(hits[0]?.snippet ?? '', /<b>Lighthouses<\/b>/);
      const ambiguous = await cli('facts', 'get', '5eedc0de');
      assert.equal(ambiguous.code, 5);
      assert.match(ambiguous.stderr, /SEEDCORE_AMBIGUOUS_ID/);
      const deleted = await cli('--json', 'facts', 'delete', fact.id.slice(0, 8));
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.deepEqual(JSON.parse(deleted.stdout), { deleted: fact.id });
    });
  });
}
