import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';

function walk(cmd: Command, path: string[] = []): { path: string; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ path: [...path, c.name()].join(' '), cmd: c }, ...walk(c, [...path, c.name()])]);
}

describe('CLI', () => {
  it('every command and subcommand has a description for --help', () => {
    const all = walk(buildProgram());
    assert.ok(all.length > 30, `found ${all.length} commands`);
    const missing = all.filter((c) => c.cmd.description().trim() === '').map((c) => c.path);
    assert.deepEqual(missing, []);
  });

  it('the commands the README promises exist', () => {
    const names = new Set(walk(buildProgram()).map((c) => c.path));
    for (const p of [
      'migrate',
      'status',
      'verify',
      'serve',
      'worker',
      'submit',
      'tasks list',
      'tasks cancel',
      'graph export',
      'embeddings knn',
      'facts search',
      'registry list',
      'schedules list',
    ]) {
      assert.ok(names.has(p), `seedcore ${p}`);
    }
  });
});
