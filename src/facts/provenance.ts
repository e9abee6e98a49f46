/**
 * A fact's provenance in one call: its sources (who said it), the facts it was derived from
 * along fact__derives_from__fact edges up to a bounded depth (from what), its validity and
 * confidence (when, how sure) and its conflicts (what contradicts it).
 */
import type { Queryable } from '../db/types.js';
import { invalidInput } from '../errors.js';
import { listFactConflicts } from './conflicts.js';
import { FACT_COLUMNS, getFact, toFact, type FactRow } from './store.js';
import type { FactProvenance, FactSource, ProvenanceStep } from './types.js';

export const DEFAULT_PROVENANCE_DEPTH = 5;
export const MAX_PROVENANCE_DEPTH = 20;
/** At most this many ancestor facts are returned, however wide the chain. */
export const MAX_PROVENANCE_FACTS = 500;

async function sourcesOf(q: Queryable, ids: string[]): Promise<Map<string, FactSource[]>> {
  const out = new Map<string, FactSource[]>();
  if (ids.length === 0) return out;
  const r = await q.query<FactSource & { fact_id: string }>(
    'SELECT fact_id::text AS fact_id, kind, ref, created_at FROM fact_sources WHERE fact_id = ANY($1::uuid[]) ORDER BY fact_id, id',
    [ids],
  );
  for (const s of r.rows) {
    const list = out.get(s.fact_id) ?? [];
    list.push({ kind: s.kind, ref: s.ref, created_at: s.created_at });
    out.set(s.fact_id, list);
  }
  return out;
}

export async function getFactProvenance(db: Queryable, idOrPrefix: string, options: { depth?: number } = {}): Promise<FactProvenance> {
  const depth = options.depth ?? DEFAULT_PROVENANCE_DEPTH;
  if (!Number.isInteger(depth) || depth < 1 || depth > MAX_PROVENANCE_DEPTH)
    throw invalidInput(`depth must be an integer between 1 and ${MAX_PROVENANCE_DEPTH}`, { field: 'depth' });
  const fact = await getFact(db, idOrPrefix);
  // Breadth first, one query per hop, each ancestor once at its smallest depth (so cycles
  // and diamonds cost nothing extra). One hop past `depth` tells whether the chain was cut.
  const seen = new Map<string, { depth: number; via: string }>([[fact.id, { depth: 0, via: '' }]]);
  let frontier = [fact.id];
  let truncated = false;
  for (let d = 1; frontier.length > 0; d++) {
    const r = await db.query<{ src: string; dst: string }>(
      'SELECT src_fact_id::text AS src, dst_fact_id::text AS dst FROM fact_derives_from_fact WHERE src_fact_id = ANY($1::uuid[]) ORDER BY src_fact_id, dst_fact_id',
      [frontier],
    );
    const next: string[] = [];
    for (const e of r.rows) {
      if (seen.has(e.dst)) continue;
      if (d > depth || seen.size > MAX_PROVENANCE_FACTS) {
        truncated = true;
        break;
      }
      seen.set(e.dst, { depth: d, via: e.src });
      next.push(e.dst);
    }
    if (truncated) break;
    frontier = next;
  }
  const ids = [...seen.keys()].filter((id) => id !== fact.id);
  const rows = await db.query<FactRow & { open_conflicts: number | string }>(
    `SELECT ${FACT_COLUMNS},
            (SELECT count(*) FROM fact_conflicts c WHERE c.fact_id = f.id AND c.status = 'open')
              + (SELECT count(*) FROM fact_conflicts c WHERE c.other_fact_id = f.id AND c.status = 'open') AS open_conflicts
       FROM facts f WHERE f.id = ANY($1::uuid[])`,
    [ids],
  );
  const kept = rows.rows
    .map((r) => ({ ...r, ...(seen.get(r.id) as { depth: number; via: string }) }))
    .sort((a, b) => a.depth - b.depth || a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id));
  const sources = await sourcesOf(db, [fact.id, ...kept.map((r) => r.id)]);
  const derived: ProvenanceStep[] = kept.map((r) => ({
    fact: toFact(r),
    depth: Number(r.depth),
    via: r.via,
    sources: sources.get(r.id) ?? [],
    open_conflicts: Number(r.open_conflicts),
  }));
  const conflicts: FactProvenance['conflicts'] = [];
  for (const status of ['open', 'resolved'] as const) {
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof listFactConflicts>> = await listFactConflicts(db, {
        status,
        factId: fact.id,
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      conflicts.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && conflicts.length < 5000);
  }
  const counts = await db.query<{ versions: number | string; derived_by: string[] | null }>(
    `SELECT (SELECT count(*) FROM fact_versions v WHERE v.fact_id = $1::uuid) AS versions,
            (SELECT array_agg(e.src_fact_id::text ORDER BY e.src_fact_id) FROM fact_derives_from_fact e WHERE e.dst_fact_id = $1::uuid) AS derived_by`,
    [fact.id],
  );
  const c = counts.rows[0];
  return {
    fact,
    sources: sources.get(fact.id) ?? [],
    conflicts,
    previous_versions: Number(c?.versions ?? 0),
    derived_from: derived,
    derived_by: c?.derived_by ?? [],
    depth,
    truncated,
  };
}
