/**
 * Recall calibration for the ANN index: after a rebuild, sample stored vectors as queries,
 * compare the index's top-k with an exact scan, and raise the search setting (ivfflat.probes
 * or hnsw.ef_search) until the target recall is met. Why: the rule-of-thumb parameters are
 * fine on well-separated clusters (recall 1.0 in bench:graph) but gave 0.63 (IVFFlat,
 * probes 20) and 0.84 (HNSW, ef_search 100) on overlapping clusters; the data decides.
 */
import type { Db } from '../db/types.js';

export interface Calibration {
  target: number;
  queries: number;
  /** Setting tried → measured recall@k, in order. */
  tried: Array<{ value: number; recall: number }>;
  chosen: number;
  recall: number;
}

const K = 10;

/**
 * Pick the smallest value from `candidates` whose recall@10 on `queries` sampled rows meets
 * `target` (or the largest tried). `setting` is 'ivfflat.probes' or 'hnsw.ef_search'.
 */
export async function calibrate(
  db: Db,
  setting: 'ivfflat.probes' | 'hnsw.ef_search',
  candidates: number[],
  target: number,
  queries: number,
): Promise<Calibration | undefined> {
  const sample = await db.query<{ node_id: number | string; emb: string }>(
    `SELECT node_id, emb::text AS emb FROM graph_embeddings ORDER BY md5(node_id::text) LIMIT ${queries}`,
  );
  if (sample.rows.length === 0) return undefined;
  // Each query is a stored vector: its own row is dropped from both answers (k + 1 fetched).
  const topk = async (emb: string, self: number, exact: boolean, value: number): Promise<number[]> =>
    db.transaction(async (tx) => {
      if (exact) {
        await tx.query('SET LOCAL enable_indexscan = off');
        await tx.query('SET LOCAL enable_bitmapscan = off');
      } else await tx.query(`SELECT set_config($1, $2, true)`, [setting, String(value)]);
      const r = await tx.query<{ node_id: number | string }>(`SELECT node_id FROM graph_embeddings ORDER BY emb <-> $1::vector LIMIT ${K + 1}`, [emb]);
      return r.rows
        .map((x) => Number(x.node_id))
        .filter((id) => id !== self)
        .slice(0, K);
    });
  const truth: number[][] = [];
  for (const s of sample.rows) truth.push(await topk(s.emb, Number(s.node_id), true, 0));
  const tried: Calibration['tried'] = [];
  for (const value of candidates) {
    let hit = 0;
    let total = 0;
    for (const [i, s] of sample.rows.entries()) {
      const got = new Set(await topk(s.emb, Number(s.node_id), false, value));
      const want = truth[i] as number[];
      hit += want.filter((x) => got.has(x)).length;
      total += want.length;
    }
    const recall = total === 0 ? 1 : hit / total;
    tried.push({ value, recall: Number(recall.toFixed(4)) });
    if (recall >= target) break;
  }
  const last = tried[tried.length - 1] as { value: number; recall: number };
  return { target, queries: sample.rows.length, tried, chosen: last.value, recall: last.recall };
}

/** Values to try: start, then doubling, capped at `max` (always ending with max if reached). */
export function ladder(start: number, max: number): number[] {
  const out: number[] = [];
  for (let v = Math.max(1, start); v < max; v *= 2) out.push(v);
  out.push(max);
  return [...new Set(out)];
}
