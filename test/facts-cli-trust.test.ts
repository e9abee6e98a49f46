import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from './helpers/db.js';
import { cliDatabase, runCli, type CliDatabase, type CliResult } from './helpers/cli.js';

for (const kind of BACKENDS) {
  describe(`facts CLI: plain text, provenance and conflicts (${kind})`, () => {
    let d: CliDatabase | undefined;
    let target: string[];
    before(async () => {
      d = await cliDatabase(kind);
      target = d.target;
    });
    after(async () => d?.cleanup());
    // A CLI start on PGlite costs seconds: few invocations, each checking several things.
    const cli = (...args: string[]): Promise<CliResult> => runCli([...target, ...args]);
    const json = <T>(r: CliResult): T => {
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as T;
    };

    it('prints facts as written (no HTML entities), with the matches marked, and the markup searchable', async () => {
      const text = 'Use <b>bold</b> & <script>alert(1)</script> with care';
      const added = json<{ id: string }>(await cli('--json', 'facts', 'add', text, '--confidence', '0.6'));
      const found = await cli('facts', 'search', '<script>alert(1)</script>');
      assert.equal(found.code, 0, found.stderr);
      assert.ok(found.stdout.includes(added.id), found.stdout);
      assert.ok(!/&amp;|&lt;|&gt;/.test(found.stdout), found.stdout);
      assert.match(found.stdout, /<\*?b\*?>/);
      assert.match(found.stdout, /\*alert\*/);
      assert.match(found.stdout, /& </);
      assert.match(found.stdout, /confidence 0\.6/);
      const shown = await cli('facts', 'get', added.id);
      assert.equal(shown.code, 0, shown.stderr);
      assert.ok(shown.stdout.includes(text), shown.stdout);
    });

    it('lists and resolves conflicts, and shows provenance with sources and conflicts', async () => {
      const a = json<{ id: string }>(
        await cli(
          '--json',
          'facts',
          'add',
          'The pier is 300 m long',
          '--subject',
          'pier',
          '--predicate',
          'length',
          '--object',
          '300 m',
          '--source',
          'uri:https://example.org/pier',
        ),
      );
      const b = json<{ id: string }>(
        await cli(
          '--json',
          'facts',
          'add',
          'The pier is 320 m long',
          '--subject',
          'pier',
          '--predicate',
          'length',
          '--object',
          '320 m',
          '--derived-from',
          a.id,
          '--source',
          'agent:surveyor',
        ),
      );
      const listed = await cli('facts', 'conflicts', '--subject', 'pier');
      assert.equal(listed.code, 0, listed.stderr);
      const m = /^#(\d+) {2}pier \/ length: "320 m" \(([0-9a-f-]+)\) vs "300 m" \(([0-9a-f-]+)\) {2}open$/m.exec(listed.stdout);
      assert.ok(m, listed.stdout);
      assert.deepEqual([m[2], m[3]], [b.id, a.id]);
      const prov = await cli('facts', 'get', b.id, '--provenance');
      assert.equal(prov.code, 0, prov.stderr);
      assert.match(prov.stdout, /sources agent:surveyor/);
      assert.ok(prov.stdout.includes(`${a.id}  The pier is 300 m long`), prov.stdout);
      assert.match(prov.stdout, /uri:https:\/\/example\.org\/pier/);
      assert.match(prov.stdout, /conflicts:\n {2}#\d+ {2}pier \/ length/);
      const bad = await cli('facts', 'resolve', m[1] as string);
      assert.equal(bad.code, 2, `neither --winner nor --keep-both is a usage error; stderr: ${bad.stderr}`);
      const done = await cli('facts', 'resolve', m[1] as string, '--winner', b.id.slice(0, 8), '--note', 'resurveyed');
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /resolved \(winner [0-9a-f-]+\)/);
      const none = await cli('facts', 'conflicts', '--subject', 'pier');
      assert.equal(none.code, 0, none.stderr);
      assert.equal(none.stdout.trim(), 'no open conflicts');
    });
  });
}
