/**
 * One schema per shape, the same answer from every face: schedules, queue limits, facts, fact
 * searches and conflict listings, graph nodes and edges, and the task list's waiting filter are rejected by the library, the HTTP API and the CLI with the
 * same code and the same `path` / `expected` / `got`, with nothing written, and accepted alike
 * when good; the CLI's --json lists are the HTTP bodies.
 *
 * The CLI is a child process. On the server backend it opens the test's own database; on
 * PGlite (a data directory belongs to one process) it opens a data directory of its own, which
 * is enough for rejections (they are decided before anything is read) but not for comparing
 * lists, which run on the server backend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSeedCoreError } from '../src/errors.js';
import { FactConflictQuerySchema, FactInputSchema, FactPatchSchema, FactSchema, FactSearchQuerySchema } from '../src/facts/schemas.js';
import { EdgeInputSchema, NodeInputSchema, NodePatchSchema } from '../src/graph/schema.js';
import { QueueLimitSchema, QueueSchema } from '../src/tasks/queues.js';
import { ScheduleFieldsSchema, ScheduleInputSchema, ScheduleSchema } from '../src/tasks/schedules.js';
import type { SeedCore } from '../src/seedcore.js';
import { BACKENDS } from './helpers/db.js';
import { PGliteDb } from '../src/db/index.js';
import { migrate } from '../src/migrate/runner.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { testServer, type TestServer } from './helpers/server.js';

interface Rejection {
  code: string;
  path: unknown;
  expected: unknown;
  got: unknown;
}

interface Case {
  why: string;
  library: (core: SeedCore) => Promise<unknown>;
  http: { method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: unknown };
  /** CLI arguments (after the database options), or null where a CLI cannot say it (an unknown field, a NUL). */
  cli: string[] | null;
  path: string;
  /** What HTTP expects instead, where a field of the library's input is a path parameter over HTTP. */
  httpExpected?: string;
  /** Also run through the CLI on PGlite, whose every CLI call opens a data directory (seconds each): one case per shape. */
  embedded?: true;
}

const LONG = 'n'.repeat(201);
const SCHEDULE = ['--cron', '0 3 * * *', '--type', 'report'];

const CASES: Case[] = [
  {
    why: 'schedule: unknown priority',
    library: (c) => c.schedules.set({ name: 'p', cron: '0 3 * * *', type: 'report', priority: 'urgent' as never }),
    http: { method: 'PUT', url: '/api/schedules/p', payload: { cron: '0 3 * * *', type: 'report', priority: 'urgent' } },
    cli: ['schedules', 'set', 'p', ...SCHEDULE, '--priority', 'urgent'],
    path: 'priority',
    embedded: true,
  },
  {
    why: 'schedule: cron minute out of range',
    library: (c) => c.schedules.set({ name: 'p', cron: '61 * * * *', type: 'report' }),
    http: { method: 'PUT', url: '/api/schedules/p', payload: { cron: '61 * * * *', type: 'report' } },
    cli: ['schedules', 'set', 'p', '--cron', '61 * * * *', '--type', 'report'],
    path: 'cron',
    embedded: true,
  },
  {
    why: 'schedule: cron with three fields',
    library: (c) => c.schedules.set({ name: 'p', cron: '* * *', type: 'report' }),
    http: { method: 'PUT', url: '/api/schedules/p', payload: { cron: '* * *', type: 'report' } },
    cli: ['schedules', 'set', 'p', '--cron', '* * *', '--type', 'report'],
    path: 'cron',
  },
  {
    why: 'schedule: unknown time zone',
    library: (c) => c.schedules.set({ name: 'p', cron: '0 3 * * *', type: 'report', timezone: 'Mars/Olympus' }),
    http: { method: 'PUT', url: '/api/schedules/p', payload: { cron: '0 3 * * *', type: 'report', timezone: 'Mars/Olympus' } },
    cli: ['schedules', 'set', 'p', ...SCHEDULE, '--timezone', 'Mars/Olympus'],
    path: 'timezone',
  },
  {
    why: 'schedule: blank type',
    library: (c) => c.schedules.set({ name: 'p', cron: '0 3 * * *', type: '   ' }),
    http: { method: 'PUT', url: '/api/schedules/p', payload: { cron: '0 3 * * *', type: '   ' } },
    cli: ['schedules', 'set', 'p', '--cron', '0 3 * * *', '--type', '   '],
    path: 'type',
  },
  {
    why: 'schedule: params not an object',
    library: (c) => c.schedules.set({ name: 'p', cron: '0 3 * * *', type: 'report', params: [1] as never }),
    http: { method: 'PUT', url: '/api/schedules/p', payload: { cron: '0 3 * * *', type: 'report', params: [1] } },
    cli: ['schedules', 'set', 'p', ...SCHEDULE, '--params', '[1]'],
    path: 'params',
  },
  {
    why: 'schedule: name over 200 characters',
    library: (c) => c.schedules.set({ name: LONG, cron: '0 3 * * *', type: 'report' }),
    http: { method: 'PUT', url: `/api/schedules/${LONG}`, payload: { cron: '0 3 * * *', type: 'report' } },
    cli: ['schedules', 'set', LONG, ...SCHEDULE],
    path: 'name',
  },
  {
    why: 'schedule: NUL in the type',
    library: (c) => c.schedules.set({ name: 'p', cron: '0 3 * * *', type: 'a\u0000b' }),
    http: { method: 'PUT', url: '/api/schedules/p', payload: { cron: '0 3 * * *', type: 'a\u0000b' } },
    cli: null,
    path: 'type',
  },
  {
    why: 'schedule: unknown field',
    library: (c) => c.schedules.set({ name: 'p', cron: '0 3 * * *', type: 'report', colour: 'red' } as never),
    http: { method: 'PUT', url: '/api/schedules/p', payload: { cron: '0 3 * * *', type: 'report', colour: 'red' } },
    cli: null,
    path: 'colour',
    httpExpected: 'one of the fields cron, timezone, type, params, queue, priority, enabled',
  },
  {
    why: 'queue limit: negative',
    library: (c) => c.queues.setLimit('bulk', -1),
    http: { method: 'PUT', url: '/api/queues/bulk/limit', payload: { max_running: -1 } },
    cli: ['queues', 'limit', 'bulk', '--', '-1'],
    path: 'max_running',
  },
  {
    why: 'queue limit: a fraction',
    library: (c) => c.queues.setLimit('bulk', 1.5),
    http: { method: 'PUT', url: '/api/queues/bulk/limit', payload: { max_running: 1.5 } },
    cli: ['queues', 'limit', 'bulk', '1.5'],
    path: 'max_running',
    embedded: true,
  },
  {
    why: 'queue limit: above the ceiling',
    library: (c) => c.queues.setLimit('bulk', 1_000_001),
    http: { method: 'PUT', url: '/api/queues/bulk/limit', payload: { max_running: 1_000_001 } },
    cli: ['queues', 'limit', 'bulk', '1000001'],
    path: 'max_running',
  },
  {
    why: 'queue limit: not a number',
    library: (c) => c.queues.setLimit('bulk', 'two' as never),
    http: { method: 'PUT', url: '/api/queues/bulk/limit', payload: { max_running: 'two' } },
    cli: ['queues', 'limit', 'bulk', 'two'],
    path: 'max_running',
  },
  {
    why: 'queue limit: blank queue name',
    library: (c) => c.queues.setLimit(' ', 3),
    http: { method: 'PUT', url: '/api/queues/%20/limit', payload: { max_running: 3 } },
    cli: ['queues', 'limit', ' ', '3'],
    path: 'queue',
  },
  {
    why: 'fact: blank text',
    library: (c) => c.facts.add({ text: '   ' }),
    http: { method: 'POST', url: '/api/facts', payload: { text: '   ' } },
    cli: ['facts', 'add', '   '],
    path: 'text',
    embedded: true,
  },
  {
    why: 'fact: confidence above 1',
    library: (c) => c.facts.add({ text: 'sure', confidence: 2 }),
    http: { method: 'POST', url: '/api/facts', payload: { text: 'sure', confidence: 2 } },
    cli: ['facts', 'add', 'sure', '--confidence', '2'],
    path: 'confidence',
  },
  {
    why: 'fact: confidence not a number',
    library: (c) => c.facts.add({ text: 'sure', confidence: 'very' as never }),
    http: { method: 'POST', url: '/api/facts', payload: { text: 'sure', confidence: 'very' } },
    cli: ['facts', 'add', 'sure', '--confidence', 'very'],
    path: 'confidence',
  },
  {
    why: 'fact: a blank tag',
    library: (c) => c.facts.add({ text: 'tagged', tags: ['ok', ' '] }),
    http: { method: 'POST', url: '/api/facts', payload: { text: 'tagged', tags: ['ok', ' '] } },
    cli: ['facts', 'add', 'tagged', '--tag', 'ok', '--tag', ' '],
    path: 'tags.1',
  },
  {
    why: 'fact: metadata not an object',
    library: (c) => c.facts.add({ text: 'meta', meta_data: [1] as never }),
    http: { method: 'POST', url: '/api/facts', payload: { text: 'meta', meta_data: [1] } },
    cli: ['facts', 'add', 'meta', '--meta', '[1]'],
    path: 'meta_data',
  },
  {
    why: 'fact: a subject without a predicate',
    library: (c) => c.facts.add({ text: 'half a statement', subject: 'sky' }),
    http: { method: 'POST', url: '/api/facts', payload: { text: 'half a statement', subject: 'sky' } },
    cli: ['facts', 'add', 'half a statement', '--subject', 'sky'],
    path: 'predicate',
  },
  {
    why: 'fact: valid_from not a timestamp',
    library: (c) => c.facts.add({ text: 'when', valid_from: 'yesterday' }),
    http: { method: 'POST', url: '/api/facts', payload: { text: 'when', valid_from: 'yesterday' } },
    cli: ['facts', 'add', 'when', '--valid-from', 'yesterday'],
    path: 'valid_from',
  },
  {
    why: 'fact: a task source that is not a task id',
    library: (c) => c.facts.add({ text: 'sourced', sources: [{ kind: 'task', ref: 'abc' }] }),
    http: { method: 'POST', url: '/api/facts', payload: { text: 'sourced', sources: [{ kind: 'task', ref: 'abc' }] } },
    cli: ['facts', 'add', 'sourced', '--source', 'task:abc'],
    path: 'sources.0.ref',
  },
  {
    why: 'fact: unknown field',
    library: (c) => c.facts.add({ text: 'x', colour: 'red' } as never),
    http: { method: 'POST', url: '/api/facts', payload: { text: 'x', colour: 'red' } },
    cli: null,
    path: 'colour',
  },
  {
    why: 'registry list: limit 0',
    library: (c) => c.registry.list({ limit: 0 }),
    http: { method: 'GET', url: '/api/registry/instances?limit=0' },
    cli: ['registry', 'list', '--limit', '0'],
    path: 'limit',
    embedded: true,
  },
  {
    why: 'registry list: limit not a number',
    library: (c) => c.registry.list({ all: true, limit: 'many' as never }),
    http: { method: 'GET', url: '/api/registry/instances?all=true&limit=many' },
    cli: ['registry', 'list', '--all', '--limit', 'many'],
    path: 'limit',
  },
  {
    why: 'fact search: limit 0',
    library: (c) => c.facts.search({ limit: 0 }),
    http: { method: 'GET', url: '/api/facts?limit=0' },
    cli: ['facts', 'search', '--limit', '0'],
    path: 'limit',
    embedded: true,
  },
  {
    why: 'fact search: minConfidence above 1',
    library: (c) => c.facts.search({ query: 'sky', minConfidence: 2 }),
    http: { method: 'GET', url: '/api/facts?query=sky&minConfidence=2' },
    cli: ['facts', 'search', 'sky', '--min-confidence', '2'],
    path: 'minConfidence',
  },
  {
    why: 'fact search: asOf not a timestamp',
    library: (c) => c.facts.search({ asOf: 'yesterday' }),
    http: { method: 'GET', url: '/api/facts?asOf=yesterday' },
    cli: ['facts', 'search', '--as-of', 'yesterday'],
    path: 'asOf',
  },
  {
    why: 'fact search: meta that is not JSON',
    library: (c) => c.facts.search({ meta: '{not' }),
    http: { method: 'GET', url: `/api/facts?meta=${encodeURIComponent('{not')}` },
    cli: ['facts', 'search', '--meta', '{not'],
    path: 'meta',
  },
  {
    why: 'fact search: meta that is not an object',
    library: (c) => c.facts.search({ meta: '[1]' }),
    http: { method: 'GET', url: `/api/facts?meta=${encodeURIComponent('[1]')}` },
    cli: ['facts', 'search', '--meta', '[1]'],
    path: 'meta',
  },
  {
    why: 'fact search: a blank tag (HTTP by its older name tag)',
    library: (c) => c.facts.search({ tags: [' '] }),
    http: { method: 'GET', url: '/api/facts?tag=%20' },
    cli: ['facts', 'search', '--tag', ' '],
    path: 'tags.0',
  },
  {
    why: 'fact search: a query over 1000 characters (HTTP by its older name q)',
    library: (c) => c.facts.search({ query: 'w'.repeat(1001) }),
    http: { method: 'GET', url: `/api/facts?q=${'w'.repeat(1001)}` },
    cli: ['facts', 'search', 'w'.repeat(1001)],
    path: 'query',
  },
  {
    why: 'fact search: an empty cursor',
    library: (c) => c.facts.search({ cursor: '' }),
    http: { method: 'GET', url: '/api/facts?cursor=' },
    cli: ['facts', 'search', '--cursor', ''],
    path: 'cursor',
  },
  {
    why: 'fact search: unknown option',
    library: (c) => c.facts.search({ colour: 'red' } as never),
    http: { method: 'GET', url: '/api/facts?colour=red' },
    cli: null,
    path: 'colour',
  },
  {
    why: 'fact conflicts: unknown status',
    library: (c) => c.facts.conflicts({ status: 'maybe' as never }),
    http: { method: 'GET', url: '/api/facts/conflicts?status=maybe' },
    cli: ['facts', 'conflicts', '--status', 'maybe'],
    path: 'status',
    embedded: true,
  },
  {
    why: 'fact conflicts: a fact id that is not a uuid (HTTP by its older name fact)',
    library: (c) => c.facts.conflicts({ factId: 'abc' }),
    http: { method: 'GET', url: '/api/facts/conflicts?fact=abc' },
    cli: ['facts', 'conflicts', '--fact', 'abc'],
    path: 'factId',
  },
  {
    why: 'fact conflicts: limit above 1000',
    library: (c) => c.facts.conflicts({ limit: 1001 }),
    http: { method: 'GET', url: '/api/facts/conflicts?limit=1001' },
    cli: ['facts', 'conflicts', '--limit', '1001'],
    path: 'limit',
  },
  {
    why: 'fact conflicts: a malformed cursor',
    library: (c) => c.facts.conflicts({ cursor: 'abc' }),
    http: { method: 'GET', url: '/api/facts/conflicts?cursor=abc' },
    cli: ['facts', 'conflicts', '--cursor', 'abc'],
    path: 'cursor',
  },
  {
    why: 'graph node: unknown type',
    library: (c) => c.graph.createNode('planet', 'x'),
    http: { method: 'POST', url: '/api/graph/nodes', payload: { type: 'planet', id: 'x' } },
    cli: ['graph', 'node', 'create', 'planet', 'x'],
    path: 'type',
    embedded: true,
  },
  {
    why: 'graph node: blank id',
    library: (c) => c.graph.createNode('agent', '  '),
    http: { method: 'POST', url: '/api/graph/nodes', payload: { type: 'agent', id: '  ' } },
    cli: ['graph', 'node', 'create', 'agent', '  '],
    path: 'id',
  },
  {
    why: 'graph node: a uuid-keyed type with an id that is not a uuid',
    library: (c) => c.graph.createNode('capability', 'abc', { name: 'summarize' }),
    http: { method: 'POST', url: '/api/graph/nodes', payload: { type: 'capability', id: 'abc', attributes: { name: 'summarize' } } },
    cli: ['graph', 'node', 'create', 'capability', 'abc', '--attrs', '{"name":"summarize"}'],
    path: 'id',
  },
  {
    why: 'graph node: attributes not an object',
    library: (c) => c.graph.createNode('agent', 'parity-agent', [1] as never),
    http: { method: 'POST', url: '/api/graph/nodes', payload: { type: 'agent', id: 'parity-agent', attributes: [1] } },
    cli: ['graph', 'node', 'create', 'agent', 'parity-agent', '--attrs', '[1]'],
    path: 'attributes',
  },
  {
    why: 'graph node: an attribute the type does not have',
    library: (c) => c.graph.createNode('agent', 'parity-agent', { colour: 'red' }),
    http: { method: 'POST', url: '/api/graph/nodes', payload: { type: 'agent', id: 'parity-agent', attributes: { colour: 'red' } } },
    cli: ['graph', 'node', 'create', 'agent', 'parity-agent', '--attrs', '{"colour":"red"}'],
    path: 'attributes.colour',
    embedded: true,
  },
  {
    why: 'graph node: an integer attribute given a fraction',
    library: (c) => c.graph.createNode('memory_cell', undefined, { scope: 's', mkey: 'k', version: 1.5 }),
    http: { method: 'POST', url: '/api/graph/nodes', payload: { type: 'memory_cell', attributes: { scope: 's', mkey: 'k', version: 1.5 } } },
    cli: ['graph', 'node', 'create', 'memory_cell', '--attrs', '{"scope":"s","mkey":"k","version":1.5}'],
    path: 'attributes.version',
  },
  {
    why: 'graph node: a required attribute left out',
    library: (c) => c.graph.createNode('artifact', undefined, {}),
    http: { method: 'POST', url: '/api/graph/nodes', payload: { type: 'artifact', attributes: {} } },
    cli: ['graph', 'node', 'create', 'artifact'],
    path: 'attributes.uri',
  },
  {
    why: 'graph node: NUL in an attribute name',
    library: (c) => c.graph.createNode('agent', 'parity-agent', { display_name: 'x', 'x\u0000': 1 }),
    http: { method: 'POST', url: '/api/graph/nodes', payload: { type: 'agent', id: 'parity-agent', attributes: { display_name: 'x', 'x\u0000': 1 } } },
    cli: null,
    path: 'attributes.x\\u0000',
  },
  {
    why: 'graph edge: unknown edge type',
    library: (c) => c.graph.addEdge('agent__hates__agent', 'a1', 'a2'),
    http: { method: 'POST', url: '/api/graph/edges', payload: { edge_type: 'agent__hates__agent', src: 'a1', dst: 'a2' } },
    cli: ['graph', 'edge', 'add', 'agent__hates__agent', 'a1', 'a2'],
    path: 'edge_type',
    embedded: true,
  },
  {
    why: 'graph edge: a node id that is not a number',
    library: (c) => c.graph.addEdge('agent__collab__agent', { nodeId: 'abc' }, 'a2'),
    http: { method: 'POST', url: '/api/graph/edges', payload: { edge_type: 'agent__collab__agent', src: { nodeId: 'abc' }, dst: 'a2' } },
    cli: ['graph', 'edge', 'add', 'agent__collab__agent', 'node:abc', 'a2'],
    path: 'src.nodeId',
  },
  {
    why: 'graph edge: a blank endpoint',
    library: (c) => c.graph.addEdge('agent__collab__agent', 'a1', ' '),
    http: { method: 'POST', url: '/api/graph/edges', payload: { edge_type: 'agent__collab__agent', src: 'a1', dst: ' ' } },
    cli: ['graph', 'edge', 'add', 'agent__collab__agent', 'a1', ' '],
    path: 'dst',
  },
  {
    why: 'graph edge: a uuid-keyed endpoint that is not a uuid',
    library: (c) => c.graph.addEdge('task__reads__fact', 'not-a-uuid', '00000000-0000-4000-8000-000000000000'),
    http: {
      method: 'POST',
      url: '/api/graph/edges',
      payload: { edge_type: 'task__reads__fact', src: 'not-a-uuid', dst: '00000000-0000-4000-8000-000000000000' },
    },
    cli: ['graph', 'edge', 'add', 'task__reads__fact', 'not-a-uuid', '00000000-0000-4000-8000-000000000000'],
    path: 'src',
  },
  {
    why: 'graph edge: an endpoint object with an unknown field',
    library: (c) => c.graph.addEdge('agent__collab__agent', { nodeId: 1, colour: 'red' } as never, 'a2'),
    http: { method: 'POST', url: '/api/graph/edges', payload: { edge_type: 'agent__collab__agent', src: { nodeId: 1, colour: 'red' }, dst: 'a2' } },
    cli: null,
    path: 'src.colour',
  },
  {
    why: 'graph node update: an attribute the type does not have',
    library: (c) => c.graph.updateNode('agent', 'parity-agent', { colour: 'red' }),
    http: { method: 'PATCH', url: '/api/graph/nodes/agent/parity-agent', payload: { attributes: { colour: 'red' } } },
    cli: ['graph', 'node', 'update', 'agent', 'parity-agent', '--attrs', '{"colour":"red"}'],
    path: 'attributes.colour',
  },
  {
    why: 'graph node update: unknown type',
    library: (c) => c.graph.updateNode('planet', 'x', { name: 'x' }),
    http: { method: 'PATCH', url: '/api/graph/nodes/planet/x', payload: { attributes: { name: 'x' } } },
    cli: ['graph', 'node', 'update', 'planet', 'x', '--attrs', '{"name":"x"}'],
    path: 'type',
  },
  {
    why: 'graph node delete: a uuid-keyed type with an id that is not a uuid',
    library: (c) => c.graph.deleteNode('fact', 'abc'),
    http: { method: 'DELETE', url: '/api/graph/nodes/fact/abc' },
    cli: ['graph', 'node', 'delete', 'fact', 'abc'],
    path: 'id',
  },
  {
    why: 'graph edge remove: unknown edge type',
    library: (c) => c.graph.removeEdge('agent__hates__agent', 'a1', 'a2'),
    http: { method: 'DELETE', url: '/api/graph/edges', payload: { edge_type: 'agent__hates__agent', src: 'a1', dst: 'a2' } },
    cli: ['graph', 'edge', 'remove', 'agent__hates__agent', 'a1', 'a2'],
    path: 'edge_type',
  },
];

function fromError(e: unknown): Rejection {
  assert.ok(isSeedCoreError(e), `a SeedCoreError: ${String(e)}`);
  const d = e.details ?? {};
  return { code: e.code, path: d.path, expected: d.expected, got: d.got };
}

function fromBody(body: { error?: { code?: string; details?: Record<string, unknown> } }): Rejection {
  const d = body.error?.details ?? {};
  return { code: body.error?.code as string, path: d.path, expected: d.expected, got: d.got };
}

async function counts(s: TestServer): Promise<Record<string, number>> {
  const { rows } = await s.core.db.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM task_schedules) AS schedules, (SELECT count(*)::int FROM queue_limits) AS limits,
            (SELECT count(*)::int FROM facts) AS facts, (SELECT count(*)::int FROM fact_sources) AS sources,
            (SELECT count(*)::int FROM tasks) AS tasks, (SELECT count(*)::int FROM graph_node_map) AS nodes,
            (SELECT count(*)::int FROM agent_registry) AS agents, (SELECT count(*)::int FROM memory_cell) AS memory_cells,
            (SELECT count(*)::int FROM agent_collab_agent) AS collab_edges`,
  );
  return rows[0] as Record<string, number>;
}

for (const kind of BACKENDS) {
  describe(`one schema, one answer: library, HTTP and CLI (${kind})`, () => {
    let s: TestServer;
    let dir: string;
    let cli: (args: string[]) => Promise<CliResult>;
    before(
      async () => {
        s = await testServer(kind);
        dir = mkdtempSync(join(tmpdir(), 'seedcore-parity-'));
        if (kind === 'pglite') {
          // Migrated here once, so no CLI call below pays for it.
          const db = await PGliteDb.open({ dataDir: join(dir, 'data') });
          await migrate(db);
          await db.close();
        }
        const target = kind === 'postgres' ? ['--database-url', s.t.url as string] : ['--data-dir', join(dir, 'data')];
        cli = (args) => runCli([...target, '--json', ...args], {}, 180_000);
      },
      { timeout: 300_000 },
    );
    after(async () => {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('rejects the same bad inputs with the same code, path, expected and got, and writes nothing', { timeout: 600_000 }, async () => {
      const before = await counts(s);
      let cliCases = 0;
      for (const c of CASES) {
        let lib: Rejection | undefined;
        try {
          await c.library(s.core);
        } catch (e) {
          lib = fromError(e);
        }
        assert.ok(lib, `${c.why}: the library rejects it`);
        assert.equal(lib.code, 'SEEDCORE_INVALID_INPUT', c.why);
        assert.equal(lib.path, c.path, `${c.why}: library path`);
        assert.equal(typeof lib.expected, 'string', `${c.why}: library says what it expected`);
        assert.equal(typeof lib.got, 'string', `${c.why}: library says what it got`);

        const r = await s.app.inject({
          method: c.http.method,
          url: c.http.url,
          ...(c.http.payload === undefined ? {} : { payload: c.http.payload as object }),
        });
        assert.equal(r.statusCode, 400, `${c.why}: HTTP ${r.body}`);
        assert.deepEqual(fromBody(r.json()), { ...lib, ...(c.httpExpected ? { expected: c.httpExpected } : {}) }, `${c.why}: HTTP says what the library says`);

        if (c.cli && (kind === 'postgres' || c.embedded)) {
          const out = await cli(c.cli);
          assert.equal(out.code, 2, `${c.why}: CLI exit code (${out.stderr})`);
          assert.deepEqual(fromBody(JSON.parse(out.stderr.trim().split('\n').pop() as string)), lib, `${c.why}: the CLI says what the library says`);
          cliCases++;
        }
      }
      assert.ok(cliCases >= 3, `the CLI answered ${cliCases} cases`);
      assert.deepEqual(await counts(s), before, 'no rejected input wrote a row');
    });

    it('accepts the same schedule from every face and stores it alike', { timeout: 600_000 }, async () => {
      const fields = { cron: '0 3 * * 1-5', timezone: 'Europe/Paris', type: 'report', params: { scope: 'all' }, queue: 'reports', priority: 'high' as const };
      const lib = await s.core.schedules.set({ name: 'from-library', ...fields, enabled: false });
      const http = await s.app.inject({ method: 'PUT', url: '/api/schedules/from-http', payload: { ...fields, enabled: false } });
      assert.equal(http.statusCode, 200, http.body);
      const comparable = (row: Record<string, unknown>) => {
        const { name: _n, last_slot: _l, created_at: _c, updated_at: _u, ...rest } = row;
        return rest;
      };
      const libJson = JSON.parse(JSON.stringify(lib)) as Record<string, unknown>;
      assert.deepEqual(comparable(http.json()), comparable(libJson), 'HTTP stores what the library stores');
      assert.deepEqual(comparable(libJson), { ...fields, enabled: false, last_task_id: null, next_slot: null });

      const out = await cli([
        'schedules',
        'set',
        'from-cli',
        '--cron',
        fields.cron,
        '--timezone',
        fields.timezone,
        '--type',
        fields.type,
        '--params',
        JSON.stringify(fields.params),
        '--queue',
        fields.queue,
        '--priority',
        fields.priority,
        '--disabled',
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(comparable(JSON.parse(out.stdout)), comparable(libJson), 'the CLI stores what the library stores');
    });

    it('accepts the same queue limit from every face and answers with the same queue', { timeout: 600_000 }, async () => {
      await s.core.tasks.submit({ type: 'mail', queue: 'parity-mail' });
      await s.core.queues.setLimit('parity-mail', 4);
      const lib = (await s.core.queues.list()).items.find((q) => q.queue === 'parity-mail');
      const http = await s.app.inject({ method: 'PUT', url: '/api/queues/parity-mail/limit', payload: { max_running: 4 } });
      assert.equal(http.statusCode, 200, http.body);
      assert.deepEqual(http.json(), lib);
      if (kind === 'postgres') {
        const out = await cli(['queues', 'limit', 'parity-mail', '4']);
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(JSON.parse(out.stdout), lib, 'the CLI answers with the queue, as PUT /api/queues/:queue/limit does');
      } else {
        // Its own data directory: no tasks there, the same shape.
        const out = await cli(['queues', 'limit', 'parity-mail', '4']);
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(JSON.parse(out.stdout), { queue: 'parity-mail', max_running: 4, running: 0, waiting: 0 });
      }
    });

    it('accepts the same fact from every face and stores it alike', { timeout: 600_000 }, async () => {
      const fields = {
        text: 'The sky is blue',
        tags: ['sky', 'colour'],
        meta_data: { source: 'parity' },
        confidence: 0.75,
        valid_from: '2026-01-01T00:00:00.000Z',
      };
      const comparable = (f: Record<string, unknown>) => {
        const { id: _i, created_at: _c, updated_at: _u, ...rest } = JSON.parse(JSON.stringify(f)) as Record<string, unknown>;
        return rest;
      };
      const lib = comparable((await s.core.facts.add(fields)) as unknown as Record<string, unknown>);
      const http = await s.app.inject({ method: 'POST', url: '/api/facts', payload: fields });
      assert.equal(http.statusCode, 201, http.body);
      assert.deepEqual(comparable(http.json()), lib, 'HTTP stores what the library stores');
      const out = await cli([
        'facts',
        'add',
        fields.text,
        '--tag',
        'sky',
        '--tag',
        'colour',
        '--meta',
        JSON.stringify(fields.meta_data),
        '--confidence',
        '0.75',
        '--valid-from',
        fields.valid_from,
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(comparable(JSON.parse(out.stdout)), lib, 'the CLI stores what the library stores');
    });

    it('answers the same fact search and conflict listing from every face, by the new and the older parameter names', { timeout: 600_000 }, async () => {
      const a = await s.core.facts.add({
        text: 'The parity lighthouse is red',
        tags: ['parity'],
        subject: 'parity-lighthouse',
        predicate: 'colour',
        object: 'red',
      });
      const b = await s.core.facts.add({
        text: 'The parity lighthouse is white',
        tags: ['parity'],
        subject: 'parity-lighthouse',
        predicate: 'colour',
        object: 'white',
      });
      const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
      const page = await s.core.facts.search({ query: 'lighthouse', tags: ['parity'], limit: 5 });
      const lib = json({ items: page.hits, nextCursor: page.nextCursor });
      assert.deepEqual(page.hits.map((h) => h.id).sort(), [a.id, b.id].sort(), 'positive control: the search finds both facts');
      for (const url of ['/api/facts?query=lighthouse&tags=parity&limit=5', '/api/facts?q=lighthouse&tag=parity&limit=5']) {
        const r = await s.app.inject(url);
        assert.equal(r.statusCode, 200, r.body);
        assert.deepEqual(r.json(), lib, `${url} answers what the library answers`);
      }
      const both = await s.app.inject('/api/facts?q=lighthouse&query=lighthouse');
      assert.equal(both.statusCode, 400, 'a parameter and its older name together are refused');
      const conflicts = json(await s.core.facts.conflicts({ factId: a.id }));
      assert.equal((conflicts as { items: unknown[] }).items.length, 1, 'positive control: the two facts conflict');
      for (const url of [`/api/facts/conflicts?factId=${a.id}`, `/api/facts/conflicts?fact=${a.id}`]) {
        const r = await s.app.inject(url);
        assert.equal(r.statusCode, 200, r.body);
        assert.deepEqual(r.json(), conflicts, `${url} answers what the library answers`);
      }
      if (kind === 'postgres') {
        const found = await cli(['facts', 'search', 'lighthouse', '--tag', 'parity', '--limit', '5']);
        assert.equal(found.code, 0, found.stderr);
        assert.deepEqual(JSON.parse(found.stdout), lib, 'facts search --json is the body of GET /api/facts');
        const listed = await cli(['facts', 'conflicts', '--fact', a.id]);
        assert.equal(listed.code, 0, listed.stderr);
        assert.deepEqual(JSON.parse(listed.stdout), conflicts, 'facts conflicts --json is the body of GET /api/facts/conflicts');
      }
    });

    it('accepts the same node and edge from every face and answers alike', { timeout: 600_000 }, async () => {
      const before = await counts(s);
      const lib = await s.core.graph.createNode('agent', 'g-library', { display_name: 'Same' });
      const http = await s.app.inject({
        method: 'POST',
        url: '/api/graph/nodes',
        payload: { type: 'agent', id: 'g-http', attributes: { display_name: 'Same' } },
      });
      assert.equal(http.statusCode, 201, http.body);
      const node = http.json() as { node_id: number; node_type: string; ext_id: string };
      assert.deepEqual(Object.keys(node).sort(), Object.keys(lib).sort(), 'HTTP answers with the node the library returns');
      assert.deepEqual([node.node_type, node.ext_id], ['agent', 'g-http']);
      assert.equal((await s.core.graph.getNode({ type: 'agent', id: 'g-http' }))?.attributes.display_name, 'Same', 'HTTP stored the attributes');
      const edge = await s.app.inject({
        method: 'POST',
        url: '/api/graph/edges',
        payload: { edge_type: 'agent__collab__agent', src: 'g-library', dst: { nodeId: node.node_id } },
      });
      assert.equal(edge.statusCode, 201, edge.body);
      const again = await s.core.graph.addEdge('agent__collab__agent', 'g-library', 'g-http');
      assert.deepEqual(JSON.parse(JSON.stringify(again)), { ...(edge.json() as object), created: false }, 'the library sees the edge HTTP added');
      const after = await counts(s);
      const added = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
      assert.deepEqual([added('agents'), added('collab_edges')], [2, 1], 'positive control: good input is written');
      if (kind === 'postgres') {
        const out = await cli(['graph', 'node', 'create', 'agent', 'g-cli', '--attrs', '{"display_name":"Same"}']);
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(Object.keys(JSON.parse(out.stdout) as object).sort(), Object.keys(lib).sort());
        const e = await cli(['graph', 'edge', 'add', 'agent__collab__agent', 'g-cli', 'g-http']);
        assert.equal(e.code, 0, e.stderr);
        const printed = JSON.parse(e.stdout) as { created: boolean; dst: unknown };
        assert.deepEqual([printed.created, printed.dst], [true, node], 'the CLI prints the edge as HTTP answers it');
      }
    });

    it('names the library schemas as OpenAPI components, and the routes take and return them', async () => {
      const doc = (await s.app.inject('/openapi.json')).json();
      const keys = (o: { properties?: object }) => Object.keys(o.properties ?? {}).sort();
      const components = doc.components.schemas;
      const body = (path: string, method: string) => doc.paths[path][method].requestBody.content['application/json'].schema;
      const ok = (path: string, method: string, code: string) => doc.paths[path][method].responses[code].content['application/json'].schema;
      assert.deepEqual(keys(components.ScheduleInput), keys(ScheduleInputSchema));
      assert.deepEqual(keys(body('/api/schedules/{name}', 'put')), keys(ScheduleFieldsSchema));
      assert.deepEqual(keys(ok('/api/schedules/{name}', 'put', '200')), keys(ScheduleSchema));
      assert.deepEqual(keys(components.Schedule), keys(ScheduleSchema));
      assert.deepEqual(keys(components.QueueLimit), keys(QueueLimitSchema));
      assert.deepEqual(keys(components.Queue), keys(QueueSchema));
      assert.deepEqual(keys(ok('/api/queues/{queue}/limit', 'put', '200')), keys(QueueSchema));
      assert.deepEqual(keys(components.FactInput), keys(FactInputSchema));
      assert.deepEqual(keys(body('/api/facts', 'post')), keys(FactInputSchema));
      assert.deepEqual(keys(components.FactPatch), keys(FactPatchSchema));
      assert.deepEqual(keys(body('/api/facts/{id}', 'patch')), keys(FactPatchSchema));
      assert.deepEqual(keys(components.Fact), keys(FactSchema));
      assert.deepEqual(keys(ok('/api/facts', 'post', '201')), keys(FactSchema));
      const query = (path: string) =>
        (doc.paths[path].get.parameters as { in: string; name: string }[])
          .filter((p) => p.in === 'query')
          .map((p) => p.name)
          .sort();
      assert.deepEqual(query('/api/facts'), keys(FactSearchQuerySchema));
      assert.deepEqual(query('/api/facts/conflicts'), keys(FactConflictQuerySchema));
      assert.deepEqual(keys(components.GraphNodeInput), keys(NodeInputSchema));
      assert.deepEqual(keys(body('/api/graph/nodes', 'post')), keys(NodeInputSchema));
      assert.deepEqual(keys(components.GraphEdgeInput), keys(EdgeInputSchema));
      assert.deepEqual(keys(body('/api/graph/edges', 'post')), keys(EdgeInputSchema));
      assert.deepEqual(keys(components.GraphNodePatch), keys(NodePatchSchema));
      assert.deepEqual(keys(body('/api/graph/nodes/{type}/{id}', 'patch')), keys(NodePatchSchema));
      assert.deepEqual(keys(body('/api/graph/edges', 'delete')), keys(EdgeInputSchema));
      assert.ok(keys(FactSchema).includes('confidence') && keys(ScheduleSchema).includes('next_slot'), 'positive control: the schemas have their fields');
    });

    it('answers the same page for schedules, queues and registry lists from the library, HTTP and CLI --json', { timeout: 600_000 }, async () => {
      const client = s.core.registry.client({ logicalId: 'parity-list', heartbeatBaseMs: 1000, logger: { info: () => undefined, warn: () => undefined } });
      await client.start();
      for (const [url, args, library] of [
        ['/api/schedules', ['schedules', 'list'], () => s.core.schedules.list()],
        ['/api/queues', ['queues', 'list'], () => s.core.queues.list()],
        ['/api/registry/instances?all=true', ['registry', 'list', '--all'], () => s.core.registry.list({ all: true })],
        ['/api/registry/instances', ['registry', 'list'], () => s.core.registry.list()],
      ] as const) {
        const http = await s.app.inject(url);
        assert.equal(http.statusCode, 200, http.body);
        const body = http.json() as { items: unknown[]; nextCursor: unknown };
        assert.deepEqual(Object.keys(body).sort(), ['items', 'nextCursor'], `${url} is a page`);
        const lib = JSON.parse(JSON.stringify(await library())) as { items: unknown[]; nextCursor: unknown };
        assert.ok(lib.items.length > 0, `positive control: ${url} lists something`);
        // Instances age between two reads: compare which instances, not their heartbeat age.
        const ids = (p: { items: unknown[] }) => p.items.map((i) => (i as { instance_id?: string }).instance_id ?? i);
        if (url.startsWith('/api/registry')) assert.deepEqual(ids(lib), ids(body), `the library lists what ${url} lists`);
        else assert.deepEqual(lib, body, `the library's list() is the body of ${url}`);
        const out = await cli([...args]);
        assert.equal(out.code, 0, out.stderr);
        const printed = JSON.parse(out.stdout) as { items: unknown[]; nextCursor: unknown };
        assert.deepEqual(Object.keys(printed).sort(), ['items', 'nextCursor'], `${args.join(' ')} --json is a page`);
        if (kind !== 'postgres') continue;
        if (url.startsWith('/api/registry')) assert.deepEqual(ids(printed), ids(body), `${args.join(' ')} --json lists what ${url} lists`);
        else assert.deepEqual(printed, body, `${args.join(' ')} --json is the body of ${url}`);
      }
      if (kind === 'postgres') {
        const names = (JSON.parse((await cli(['schedules', 'list'])).stdout) as { items: { name: string }[] }).items.map((r) => r.name);
        assert.ok(names.includes('from-library') && names.includes('from-cli'), 'positive control: the lists compared are not empty');
      }
      await client.close();
    });
  });
}
