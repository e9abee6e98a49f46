/**
 * Rows kept aside by an upgrade instead of being dropped: migration 007 moves embeddings whose
 * node_id is not a graph_node_map node (the original keyed them by Neo4j ids) into
 * graph_embeddings_quarantine. `seedcore verify` and `seedcore migrate` report them.
 */
import type { Queryable } from '../db/types.js';

export interface QuarantineReport {
  table: 'graph_embeddings_quarantine';
  rows: number;
  /** What to do with them, as SQL a user can run. */
  howTo: string;
}

export const QUARANTINE_HOWTO = [
  'map a row to its node (e.g. a task: SELECT ensure_task_node(<task uuid>) gives the node id), then move it back:',
  '  UPDATE graph_embeddings_quarantine SET node_id = <node id> WHERE node_id = <old id>;',
  '  INSERT INTO graph_embeddings (node_id, label, props, emb, created_at, updated_at)',
  '    SELECT q.node_id, q.label, q.props, q.emb, q.created_at, q.updated_at FROM graph_embeddings_quarantine q',
  '     WHERE EXISTS (SELECT 1 FROM graph_node_map m WHERE m.node_id = q.node_id) ON CONFLICT (node_id) DO NOTHING;',
  '  DELETE FROM graph_embeddings_quarantine q WHERE EXISTS (SELECT 1 FROM graph_embeddings e WHERE e.node_id = q.node_id);',
  'or drop them (they are recomputed by graph_embed tasks): DROP TABLE graph_embeddings_quarantine;',
].join('\n');

/** The quarantined embeddings, or null when the table does not exist (nothing was ever quarantined). */
export async function quarantineReport(db: Queryable): Promise<QuarantineReport | null> {
  const t = await db.query<{ t: string | null }>("SELECT to_regclass('graph_embeddings_quarantine')::text AS t");
  if (!t.rows[0]?.t) return null;
  const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM graph_embeddings_quarantine');
  return { table: 'graph_embeddings_quarantine', rows: n.rows[0]?.n ?? 0, howTo: QUARANTINE_HOWTO };
}

export function formatQuarantine(q: QuarantineReport | null): string | null {
  if (!q || q.rows === 0) return null;
  return `! ${q.rows} embedding(s) kept in ${q.table}: their node_id is not a graph_node_map node (e.g. Neo4j ids from the original).\n${q.howTo
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}`;
}
