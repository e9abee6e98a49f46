/**
 * One task schema for every face: the tasks table, the library's TaskSchema, the HTTP
 * response and the OpenAPI document list the same columns, and every task input field is
 * accepted, and stored as given, by the library, POST /api/tasks and `seedcore submit`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TASK_COLUMN_NAMES } from '../src/tasks/rows.js';
import { TASK_INPUT_FIELDS } from '../src/tasks/validate.js';
import { BACKENDS } from './helpers/db.js';
import { runCli } from './helpers/cli.js';
import { testServer, type TestServer } from './helpers/server.js';

/** A value for every input field, and how it shows in the row (undefined: not a column). */
function sample(depId: string, face: string): Record<string, unknown> {
  return {
    id: randomUUID(),
    type: `probe_${face}`,
    params: { face, n: 1 },
    description: `from ${face}`,
    domain: 'schema-test',
    drift_score: 0.25,
    run_after: '2030-01-01T00:00:00.000Z',
    dependsOn: [depId],
    agentId: `agent-${face}`,
    organId: `organ-${face}`,
    requires: ['embed', 'summarize>=2'],
    priority: 'high',
    queue: `q-${face}`,
    max_attempts: 7,
    timeout_seconds: 12.5,
    dedup_key: `dedup-${face}-${randomUUID()}`,
    expires_at: '2031-01-01T00:00:00.000Z',
  };
}

const NOT_COLUMNS = new Set(['dependsOn', 'agentId', 'organId']);

function kebab(field: string): string {
  return `--${field.replace(/_/g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function cliArgs(input: Record<string, unknown>): string[] {
  const args = ['submit', input.type as string];
  for (const [k, v] of Object.entries(input)) {
    if (k === 'type') continue;
    args.push(kebab(k), typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : JSON.stringify(v));
  }
  return args;
}

async function assertStored(s: TestServer, input: Record<string, unknown>, row: Record<string, unknown>, face: string): Promise<void> {
  for (const field of TASK_INPUT_FIELDS) {
    if (NOT_COLUMNS.has(field)) continue;
    const want = input[field];
    const got = row[field] instanceof Date ? (row[field] as Date).toISOString() : row[field];
    assert.deepEqual(got, want, `${face}: ${field}`);
  }
  const { rows } = await s.core.db.query<{ deps: string[]; agent: string | null; organ: string | null }>(
    `SELECT array(SELECT dst_task_id::text FROM task_depends_on_task WHERE src_task_id = $1) AS deps,
            (SELECT agent_id FROM task_owned_by_agent WHERE task_id = $1) AS agent,
            (SELECT organ_id FROM task_executed_by_organ WHERE task_id = $1) AS organ`,
    [row.id],
  );
  assert.deepEqual(rows[0], { deps: input.dependsOn, agent: input.agentId, organ: input.organId }, `${face}: dependsOn, agentId, organId`);
}

for (const kind of BACKENDS) {
  describe(`one task schema (${kind})`, () => {
    let s: TestServer;
    let depId: string;
    before(async () => {
      s = await testServer(kind);
      depId = (await s.core.tasks.submit({ type: 'dependency' })).id;
    });
    after(async () => s.close());

    it('lists every column of the tasks table in TaskSchema, the HTTP response and the OpenAPI Task schema', async () => {
      const { rows } = await s.core.db.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'tasks' ORDER BY ordinal_position",
      );
      const table = rows.map((r) => r.column_name);
      assert.ok(table.includes('id') && table.includes('expires_at'), 'the catalogue query found the table');
      assert.deepEqual([...TASK_COLUMN_NAMES].sort(), [...table].sort(), 'TaskSchema in src/tasks/rows.ts lists exactly the columns of tasks');

      const r = await s.app.inject({ url: `/api/tasks/${depId}` });
      assert.equal(r.statusCode, 200);
      const shown = (o: object) => table.filter((c) => !(c in o));
      assert.deepEqual(shown(r.json()), [], 'GET /api/tasks/:id shows every column');
      const list = await s.app.inject({ url: '/api/tasks?limit=1' });
      assert.deepEqual(shown(list.json().items[0]), [], 'GET /api/tasks shows every column');

      const doc = (await s.app.inject({ url: '/openapi.json' })).json();
      const component = doc.components.schemas.Task;
      assert.deepEqual(Object.keys(component.properties).sort(), [...table].sort(), 'the OpenAPI Task component');
      const listed = doc.paths['/api/tasks'].get.responses['200'].content['application/json'].schema.properties.items.items;
      // List items also carry the computed unroutable field (not a column).
      assert.deepEqual(Object.keys(listed.properties).sort(), [...table, 'unroutable'].sort(), 'the OpenAPI response of GET /api/tasks');
      assert.deepEqual(Object.keys(doc.components.schemas.TaskInput.properties).sort(), [...TASK_INPUT_FIELDS].sort());
    });

    it('accepts every task input field in the library and stores it as given', async () => {
      const input = sample(depId, 'library');
      assert.deepEqual(Object.keys(input).sort(), [...TASK_INPUT_FIELDS].sort(), 'the sample covers every input field');
      const row = await s.core.tasks.submit(input as never);
      await assertStored(s, input, row as unknown as Record<string, unknown>, 'library');
    });

    it('accepts every task input field over HTTP and shows it in GET', async () => {
      const input = sample(depId, 'http');
      const r = await s.app.inject({ method: 'POST', url: '/api/tasks', payload: input });
      assert.equal(r.statusCode, 201, r.body);
      await assertStored(s, input, r.json(), 'POST');
      const got = await s.app.inject({ url: `/api/tasks/${input.id as string}` });
      await assertStored(s, input, got.json(), 'GET');
    });

    it('names the field, what was expected and what it got, for a bad body', async () => {
      const cases: Array<[unknown, string, RegExp]> = [
        [{ type: 'x', priority: 'urgent' }, 'priority', /one of critical, high, normal, low/],
        [{ type: 'x', colour: 'red' }, 'colour', /one of the fields/],
        [{ params: {} }, 'type', /non-blank string/],
        [{ type: 'x', max_attempts: 'three' }, 'max_attempts', /integer between 1 and 1000/],
        [{ type: 'x', run_after: 'foo 1' }, 'run_after', /ISO 8601/],
        [{ type: 'x', run_after: '0000-01-01T00:00:00Z' }, 'run_after', /ISO 8601/],
        [[{ type: 'a' }, { type: 'b', queue: '' }], '1.queue', /non-blank string/],
      ];
      for (const [payload, path, expected] of cases) {
        const r = await s.app.inject({ method: 'POST', url: '/api/tasks', payload: payload as object });
        assert.equal(r.statusCode, 400, JSON.stringify(payload));
        const e = r.json().error;
        assert.equal(e.code, 'SEEDCORE_INVALID_INPUT');
        assert.equal(e.details.path, path, `${JSON.stringify(payload)}: ${e.message}`);
        assert.match(e.details.expected, expected, e.message);
        assert.equal(typeof e.details.got, 'string');
        assert.match(e.message, new RegExp(path.replace('.', '\\.')));
      }
      // The library says the same.
      await assert.rejects(
        s.core.tasks.submit({ type: 'x', priority: 'urgent' as never }),
        (e: { details?: { path?: string } }) => e.details?.path === 'priority',
      );
    });

    // Multi-process (the CLI is a child process): on the server backend, which both can open.
    it(
      'accepts every task input field in `seedcore submit` and shows them in `tasks get`',
      { skip: kind === 'pglite' ? 'runs on the server backend' : false },
      async () => {
        const dir = mkdtempSync(join(tmpdir(), 'seedcore-schema-cli-'));
        try {
          const target = ['--database-url', s.t.url as string];
          const input = sample(depId, 'cli');
          const r = await runCli([...target, '--json', ...cliArgs(input)]);
          assert.equal(r.code, 0, r.stderr);
          const row = JSON.parse(r.stdout);
          for (const field of TASK_INPUT_FIELDS) if (!NOT_COLUMNS.has(field)) assert.deepEqual(row[field], input[field], `cli: ${field}`);
          const shown = await runCli([...target, 'tasks', 'get', input.id as string]);
          assert.equal(shown.code, 0, shown.stderr);
          for (const column of TASK_COLUMN_NAMES) assert.match(shown.stdout, new RegExp(`^${column} `, 'm'), `tasks get shows ${column}`);
          assert.match(shown.stdout, /^queue +q-cli$/m);
          assert.match(shown.stdout, /^priority +high$/m);
          assert.match(shown.stdout, /^attempts +0\/7$/m);
          const listed = await runCli([...target, '--json', 'tasks', 'list', '--limit', '1']);
          assert.deepEqual(Object.keys(JSON.parse(listed.stdout)).sort(), ['items', 'nextCursor'], 'CLI --json lists as {items, nextCursor}');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  });
}
