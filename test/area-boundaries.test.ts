/**
 * Area boundaries: the task area reaches the registry's and the graph's tables only through
 * their functions of migration 030. Each function is checked on real rows (a row it must
 * report or write and one it must not), the two read functions are checked to be inlined by
 * the planner (so recovery and retention read the tables as before), and a static check over
 * src/tasks/ and src/worker/ finds no SQL string that names a registry or graph table, with a
 * planted string as the positive control. Which area owns which table is read from the
 * ownership table of docs/architecture.md.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { EXPECTED_TABLES } from '../src/migrate/catalogue.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { recoverStale } from '../src/tasks/recovery.js';
import { pruneTasks } from '../src/tasks/retention.js';
import { submitTasks } from '../src/tasks/submit.js';
import { BACKENDS, freshDb, type TestDb } from './helpers/db.js';

// ---------------------------------------------------------------------------
// Ownership, from docs/architecture.md
// ---------------------------------------------------------------------------

/** owner (first word of the row) → the table names and `prefix_*` patterns of its row. */
function ownershipTable(): Map<string, string[]> {
  const text = readFileSync(join(PACKAGE_ROOT, 'docs', 'architecture.md'), 'utf8');
  const section = text.split('## Which component owns which tables')[1];
  assert.ok(section, 'docs/architecture.md has the ownership section');
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const m = /^\| ([a-z]+)[^|]*\| (.+) \|$/.exec(line);
    if (!m || m[1] === 'owner') continue;
    rows.set(
      m[1] as string,
      [...(m[2] as string).matchAll(/`([a-z_]+\*?)`/g)].map((x) => x[1] as string),
    );
  }
  return rows;
}

/** Every table of the catalogue → its one owner: an exact name wins over a `prefix_*` pattern. */
function ownerOf(rows: Map<string, string[]>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const table of EXPECTED_TABLES) {
    const exact = [...rows].filter(([, names]) => names.includes(table)).map(([o]) => o);
    const pattern = [...rows].filter(([, names]) => names.some((n) => n.endsWith('*') && table.startsWith(n.slice(0, -1)))).map(([o]) => o);
    const found = exact.length > 0 ? exact : pattern;
    assert.equal(found.length, 1, `table ${table}: owners ${JSON.stringify(found)} in docs/architecture.md (expected exactly one)`);
    owners.set(table, found[0] as string);
  }
  return owners;
}

/** The views of the registry and the graph (the ownership table lists tables only). */
const FOREIGN_VIEWS = ['active_instances', 'active_instance', 'hgnn_edges', 'task_embeddings'];

// ---------------------------------------------------------------------------
// The static check
// ---------------------------------------------------------------------------

/** The texts of the string literals and template parts of a TypeScript source (comments excluded). */
function stringTexts(source: string): string[] {
  const file = ts.createSourceFile('source.ts', source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node)) out.push(node.text);
    else if (ts.isTemplateExpression(node)) out.push(node.head.text);
    else if (ts.isTemplateSpan(node)) out.push(node.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/**
 * The foreign tables a source names in SQL: a name with an underscore anywhere in a string, a
 * one-word name (capability, model, …) after FROM, JOIN, INTO, UPDATE, TABLE or REFERENCES.
 */
function foreignNames(source: string, foreign: readonly string[]): string[] {
  const found = new Set<string>();
  for (const text of stringTexts(source)) {
    for (const name of foreign) {
      const re = name.includes('_') ? new RegExp(`\\b${name}\\b`, 'i') : new RegExp(`\\b(?:FROM|JOIN|INTO|UPDATE|TABLE|REFERENCES)\\s+${name}\\b`, 'i');
      if (re.test(text)) found.add(name);
    }
  }
  return [...found].sort();
}

function tsFilesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(root, f))
    .sort();
}

/** file (relative to base) → the foreign names it uses, for every file that uses one. */
function violations(roots: string[], base: string, foreign: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const root of roots)
    for (const file of tsFilesUnder(join(base, root))) {
      const names = foreignNames(readFileSync(file, 'utf8'), foreign);
      if (names.length > 0) out[file.slice(base.length + 1)] = names;
    }
  return out;
}

describe('area boundaries: static check', () => {
  const owners = ownerOf(ownershipTable());
  const foreign = [...[...owners].filter(([, o]) => o === 'graph' || o === 'registry').map(([t]) => t), ...FOREIGN_VIEWS];

  it('the ownership table of docs/architecture.md gives every table one owner; registry and graph tables are the foreign ones', () => {
    assert.equal(owners.get('registry_instance'), 'registry');
    assert.equal(owners.get('cluster_metadata'), 'registry');
    assert.equal(owners.get('graph_node_map'), 'graph');
    assert.equal(owners.get('capability'), 'graph');
    assert.equal(owners.get('task_uses_capability'), 'graph');
    assert.equal(owners.get('agent_member_of_organ'), 'graph'); // through the `agent_*` pattern
    // Created by the graph's migration 007, written only by the task area: the task area's.
    assert.equal(owners.get('task_depends_on_task'), 'tasks');
    assert.equal(owners.get('task_owned_by_agent'), 'tasks');
    assert.equal(owners.get('task_executed_by_organ'), 'tasks');
  });

  it('the checker finds planted names in strings and templates, not in comments or in prose', () => {
    const planted = [
      '// FROM graph_node_map in a comment is no SQL',
      '/* JOIN registry_instance */',
      "const a = 'SELECT 1 FROM registry_instance';",
      'const b = `INSERT INTO capability (name) VALUES ($1) RETURNING ${"x"} AND x IN (SELECT ext_uuid FROM graph_node_map)`;',
      "const c = 'expected a capability name';",
      'const d = /FROM hgnn_edges/.test(a) ? `${a} ${b}` : `tail ${c} FROM active_instances`;',
    ].join('\n');
    assert.deepEqual(foreignNames(planted, foreign), ['active_instances', 'capability', 'graph_node_map', 'registry_instance']);
    // The walker reads nested files.
    const dir = mkdtempSync(join(tmpdir(), 'seedcore-boundaries-'));
    try {
      mkdirSync(join(dir, 'tasks', 'deep'), { recursive: true });
      writeFileSync(join(dir, 'tasks', 'deep', 'planted.ts'), "export const q = 'SELECT 1 FROM cluster_metadata WHERE id = 1';\n");
      writeFileSync(join(dir, 'tasks', 'clean.ts'), "export const q = 'SELECT registry_dead_instance_ids()';\n");
      assert.deepEqual(violations(['tasks'], dir, foreign), { [join('tasks', 'deep', 'planted.ts')]: ['cluster_metadata'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('src/tasks/ and src/worker/ name no registry or graph table in SQL', () => {
    assert.ok(tsFilesUnder(join(PACKAGE_ROOT, 'src', 'tasks')).some((f) => f.endsWith('retention.ts')));
    assert.deepEqual(violations([join('src', 'tasks'), join('src', 'worker')], PACKAGE_ROOT, foreign), {});
  });
});

// ---------------------------------------------------------------------------
// The functions on real rows, on each backend
// ---------------------------------------------------------------------------

const T1 = '00000000-0000-4000-8000-0000000000a1';
const T2 = '00000000-0000-4000-8000-0000000000a2';
const T3 = '00000000-0000-4000-8000-0000000000a3';

for (const kind of BACKENDS) {
  describe(`area boundaries: the functions of migration 030 on ${kind}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(kind);
    });
    after(async () => t.cleanup());

    async function column<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      const r = await t.db.query<{ v: T }>(sql, params);
      return r.rows.map((x) => x.v);
    }

    it('registry_dead_instance_ids: dead and silent instances, by cluster_metadata.liveness_seconds (15 without the row)', async () => {
      await t.db.exec(`
        DELETE FROM registry_instance;
        DELETE FROM cluster_metadata;
        INSERT INTO registry_instance (instance_id, logical_id, cluster_epoch, status, last_heartbeat) VALUES
          ('00000000-0000-4000-8000-00000000d001', 'dead', gen_random_uuid(), 'dead', now()),
          ('00000000-0000-4000-8000-00000000d002', 'silent-30s', gen_random_uuid(), 'alive', now() - interval '30 seconds'),
          ('00000000-0000-4000-8000-00000000d003', 'fresh', gen_random_uuid(), 'alive', now()),
          ('00000000-0000-4000-8000-00000000d004', 'draining-fresh', gen_random_uuid(), 'draining', now() - interval '2 seconds');`);
      const sql = 'SELECT id AS v FROM registry_dead_instance_ids() d(id) ORDER BY 1';
      assert.deepEqual(await column<string>(sql), ['00000000-0000-4000-8000-00000000d001', '00000000-0000-4000-8000-00000000d002']);
      await t.db.exec('INSERT INTO cluster_metadata (id, current_epoch, liveness_seconds) VALUES (1, gen_random_uuid(), 60)');
      assert.deepEqual(await column<string>(sql), ['00000000-0000-4000-8000-00000000d001']);
      await t.db.exec('UPDATE cluster_metadata SET liveness_seconds = 1');
      assert.deepEqual(await column<string>(sql), [
        '00000000-0000-4000-8000-00000000d001',
        '00000000-0000-4000-8000-00000000d002',
        '00000000-0000-4000-8000-00000000d004',
      ]);
      await t.db.exec('UPDATE cluster_metadata SET liveness_seconds = 15');
    });

    it('recovery moves the running tasks of dead owners only, and of no owner when deadOwners is off', async () => {
      await t.db.exec(`
        INSERT INTO tasks (id, type, status, owner_id, lease_expires_at, attempts, max_attempts) VALUES
          ('${T1}', 'r', 'running', '00000000-0000-4000-8000-00000000d001', now() + interval '1 hour', 1, 3),
          ('${T2}', 'r', 'running', '00000000-0000-4000-8000-00000000d003', now() + interval '1 hour', 1, 3),
          ('${T3}', 'r', 'running', 'not-a-registry-instance', now() + interval '1 hour', 1, 3);`);
      assert.deepEqual(await recoverStale(t.db, { deadOwners: false, maxAttempts: 3, limit: 100 }), []);
      assert.deepEqual(await recoverStale(t.db, { deadOwners: true, maxAttempts: 3, limit: 100 }), [{ id: T1, status: 'retry' }]);
      const rows = await t.db.query<{ id: string; status: string; owner_id: string | null }>(
        'SELECT id, status::text, owner_id FROM tasks WHERE type = $1 ORDER BY id',
        ['r'],
      );
      assert.deepEqual(rows.rows, [
        { id: T1, status: 'retry', owner_id: null },
        { id: T2, status: 'running', owner_id: '00000000-0000-4000-8000-00000000d003' },
        { id: T3, status: 'running', owner_id: 'not-a-registry-instance' },
      ]);
      await t.db.exec("DELETE FROM tasks WHERE type = 'r'");
    });

    it('graph_linked_task_ids: tasks with a graph node (mapped, or an endpoint of an edge), not others', async () => {
      await t.db.exec(`
        INSERT INTO tasks (id, type, status) VALUES ('${T1}', 'g', 'completed'), ('${T2}', 'g', 'completed'), ('${T3}', 'g', 'completed');
        SELECT ensure_task_node('${T1}');
        INSERT INTO artifact (artifact_id, uri, kind) VALUES ('00000000-0000-4000-8000-0000000000f1', 'file:///a', 'doc');
        INSERT INTO task_produces_artifact (task_id, artifact_id) VALUES ('${T2}', '00000000-0000-4000-8000-0000000000f1');`);
      const linked = await column<string>('SELECT id AS v FROM graph_linked_task_ids() g(id) WHERE g.id = ANY($1::uuid[]) ORDER BY 1', [[T1, T2, T3]]);
      assert.deepEqual(linked, [T1, T2]);
    });

    it('retention keeps the graph-linked tasks and prunes the unlinked one', async () => {
      await t.db.exec(`UPDATE tasks SET created_at = now() - interval '10 days', updated_at = now() - interval '9 days' WHERE type = 'g'`);
      assert.deepEqual(await pruneTasks(t.db, { olderThanSeconds: 7 * 86_400 }), { deleted: 1, batches: 1 });
      assert.deepEqual(await column<string>("SELECT id::text AS v FROM tasks WHERE type = 'g' ORDER BY 1"), [T1, T2]);
      await t.db.exec("DELETE FROM task_produces_artifact; DELETE FROM artifact; DELETE FROM tasks WHERE type = 'g'");
    });

    it('the read functions are inlined: the prune and recovery plans read the tables, with no function scan', async () => {
      const plan = async (sql: string): Promise<string> =>
        (await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      // Positive control: a function that is not inlined shows as a Function Scan.
      assert.match(await plan('SELECT 1 FROM generate_series(1, 3) g WHERE g > 1'), /Function Scan/);
      const prune = await plan(`SELECT t.id FROM tasks t
          WHERE t.status = 'completed' AND t.created_at < now() - interval '7 days'
            AND NOT EXISTS (SELECT 1 FROM graph_linked_task_ids() g(id) WHERE g.id = t.id)
          LIMIT 10`);
      assert.doesNotMatch(prune, /Function Scan/);
      assert.match(prune, /Anti Join/);
      assert.match(prune, /graph_node_map/);
      const recover = await plan(`SELECT t.id FROM tasks t
          WHERE t.status = 'running' AND (t.lease_expires_at < now() OR t.owner_id IN (SELECT d.id FROM registry_dead_instance_ids() d(id)))`);
      assert.doesNotMatch(recover, /Function Scan/);
      assert.match(recover, /registry_instance/);
    });

    it('graph_register_agents: inserts missing agents once, leaves existing ones unchanged', async () => {
      await t.db.exec("INSERT INTO agent_registry (agent_id, display_name) VALUES ('ag-old', 'kept')");
      await t.db.query('SELECT graph_register_agents($1::text[])', [['ag-new', 'ag-old', 'ag-new']]);
      const rows = await t.db.query<{ agent_id: string; display_name: string | null }>(
        "SELECT agent_id, display_name FROM agent_registry WHERE agent_id LIKE 'ag-%' ORDER BY agent_id",
      );
      assert.deepEqual(rows.rows, [
        { agent_id: 'ag-new', display_name: null },
        { agent_id: 'ag-old', display_name: 'kept' },
      ]);
      assert.deepEqual(await column<string>("SELECT agent_id AS v FROM agent_registry WHERE agent_id = 'ag-unnamed'"), []);
    });

    it('graph_register_organs: inserts missing organs with their agent (first non-NULL), leaves existing ones unchanged', async () => {
      await t.db.exec("INSERT INTO organ_registry (organ_id, agent_id, kind) VALUES ('or-old', NULL, 'kept')");
      await t.db.query('SELECT graph_register_organs($1::text[], $2::text[])', [
        ['or-new', 'or-new', 'or-old', 'or-bare'],
        [null, 'ag-new', 'ag-new', null],
      ]);
      const rows = await t.db.query<{ organ_id: string; agent_id: string | null; kind: string | null }>(
        "SELECT organ_id, agent_id, kind FROM organ_registry WHERE organ_id LIKE 'or-%' ORDER BY organ_id",
      );
      assert.deepEqual(rows.rows, [
        { organ_id: 'or-bare', agent_id: null, kind: null },
        { organ_id: 'or-new', agent_id: 'ag-new', kind: null },
        { organ_id: 'or-old', agent_id: null, kind: 'kept' },
      ]);
    });

    it('graph_link_task_capabilities: registers missing capabilities and adds the edges with their minimum version; existing ones unchanged', async () => {
      await t.db.exec(`
        INSERT INTO tasks (id, type, status) VALUES ('${T1}', 'c', 'queued'), ('${T2}', 'c', 'queued'), ('${T3}', 'c', 'queued');
        INSERT INTO capability (name) VALUES ('cap-old');`);
      const oldId = (await column<string>("SELECT capability_id::text AS v FROM capability WHERE name = 'cap-old'"))[0];
      await t.db.query('SELECT graph_link_task_capabilities($1::uuid[], $2::text[], $3::text[])', [
        [T1, T1, T2],
        ['cap-old', 'cap-new', 'cap-new'],
        ['1.2', null, '2'],
      ]);
      // A second call with another minimum version for an existing edge changes nothing.
      await t.db.query('SELECT graph_link_task_capabilities($1::uuid[], $2::text[], $3::text[])', [[T1], ['cap-old'], ['9']]);
      const edges = await t.db.query<{ task_id: string; name: string; min_version: string | null }>(
        `SELECT u.task_id::text, c.name, u.min_version FROM task_uses_capability u JOIN capability c USING (capability_id)
          WHERE u.task_id = ANY($1::uuid[]) ORDER BY 1, 2`,
        [[T1, T2, T3]],
      );
      assert.deepEqual(edges.rows, [
        { task_id: T1, name: 'cap-new', min_version: null },
        { task_id: T1, name: 'cap-old', min_version: '1.2' },
        { task_id: T2, name: 'cap-new', min_version: '2' },
      ]);
      assert.deepEqual(await column<string>("SELECT capability_id::text AS v FROM capability WHERE name = 'cap-old'"), [oldId]);
      assert.deepEqual(await column<number>("SELECT count(*)::int AS v FROM capability WHERE name IN ('cap-old', 'cap-new')"), [2]);
      await t.db.exec("DELETE FROM tasks WHERE type = 'c'");
    });

    it('a submission with agentId, organId and requires writes its rows through these functions', async () => {
      const [row] = await submitTasks(t.db, [{ type: 'bound', agentId: 'ag-sub', organId: 'or-sub', requires: ['cap-sub>=1.0'] }]);
      assert.ok(row);
      const got = await t.db.query<{ agent: string; organ: string; organ_agent: string | null; cap: string; min_version: string | null; linked: boolean }>(
        `SELECT a.agent_id AS agent, o.organ_id AS organ, o.agent_id AS organ_agent, c.name AS cap, u.min_version,
                EXISTS (SELECT 1 FROM graph_linked_task_ids() g(id) WHERE g.id = $1) AS linked
           FROM task_owned_by_agent a JOIN task_executed_by_organ eo ON eo.task_id = a.task_id
           JOIN organ_registry o ON o.organ_id = eo.organ_id
           JOIN task_uses_capability u ON u.task_id = a.task_id JOIN capability c USING (capability_id)
          WHERE a.task_id = $1`,
        [row.id],
      );
      assert.deepEqual(got.rows, [{ agent: 'ag-sub', organ: 'or-sub', organ_agent: 'ag-sub', cap: 'cap-sub', min_version: '1.0', linked: true }]);
    });
  });
}
