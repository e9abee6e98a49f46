/**
 * Conflicting facts and the per-predicate resolution policies. Detection itself runs in the
 * database (facts_track_conflicts, migration 019) so every client's writes are checked; this
 * module lists conflicts, settles them by hand and changes policies.
 */
import type { Queryable } from '../db/types.js';
import { SeedCoreError, invalidInput, notFound } from '../errors.js';
import { inTransaction } from './store.js';
import {
  FACT_POLICIES,
  type FactConflict,
  type FactConflictListOptions,
  type FactConflictPage,
  type FactConflictResolution,
  type FactPolicy,
} from './types.js';
import { checkConflictOptions, checkOptionalString, checkUuid } from './validate.js';

const CONFLICT_COLUMNS = `c.id, c.subject, c.predicate, c.fact_id::text AS fact_id, c.other_fact_id::text AS other_fact_id,
  coalesce(a.object, a.text) AS fact_value, coalesce(b.object, b.text) AS other_value, c.detected_at, c.status, c.resolution,
  c.winner_fact_id::text AS winner_fact_id, c.resolved_by, c.note, c.resolved_at`;
const CONFLICT_FROM = 'fact_conflicts c JOIN facts a ON a.id = c.fact_id JOIN facts b ON b.id = c.other_fact_id';

function toConflict(r: FactConflict & { id: number | string }): FactConflict {
  return { ...r, id: Number(r.id) };
}

export async function listFactConflicts(db: Queryable, given: FactConflictListOptions = {}): Promise<FactConflictPage> {
  // The schema of GET /api/facts/conflicts first, so a bad option is named alike from every face.
  const options = checkConflictOptions(given);
  const status = options.status ?? 'open';
  if (!['open', 'resolved', 'all'].includes(status)) throw invalidInput("status must be 'open', 'resolved' or 'all'", { field: 'status' });
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidInput('limit must be an integer between 1 and 1000', { field: 'limit' });
  const params: unknown[] = [];
  const where: string[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (status !== 'all') where.push(`c.status = ${p(status)}`);
  if (options.subject !== undefined) where.push(`c.subject = ${p(checkOptionalString(options.subject, 'subject'))}`);
  if (options.predicate !== undefined) where.push(`c.predicate = ${p(checkOptionalString(options.predicate, 'predicate'))}`);
  if (options.factId !== undefined) {
    const id = p(checkUuid(options.factId, 'factId'));
    where.push(`(c.fact_id = ${id}::uuid OR c.other_fact_id = ${id}::uuid)`);
  }
  if (options.cursor !== undefined) {
    if (typeof options.cursor !== 'string' || !/^[1-9]\d{0,17}$/.test(options.cursor)) throw invalidInput('cursor is malformed', { field: 'cursor' });
    where.push(`c.id < ${p(options.cursor)}::bigint`);
  }
  const r = await db.query<FactConflict & { id: string }>(
    `SELECT ${CONFLICT_COLUMNS} FROM ${CONFLICT_FROM} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY c.id DESC LIMIT ${p(limit + 1)}`,
    params,
  );
  const items = r.rows.slice(0, limit).map(toConflict);
  const last = items[items.length - 1];
  return { items, nextCursor: r.rows.length > limit && last ? String(last.id) : null };
}

export async function getFactConflict(db: Queryable, id: number): Promise<FactConflict> {
  const r = await db.query<FactConflict & { id: string }>(`SELECT ${CONFLICT_COLUMNS} FROM ${CONFLICT_FROM} WHERE c.id = $1`, [id]);
  const row = r.rows[0];
  if (!row) throw notFound(`fact conflict ${id} does not exist`, { id });
  return toConflict(row);
}

function checkConflictId(v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v;
  if (!Number.isSafeInteger(n) || (n as number) < 1) throw invalidInput(`conflict id must be a positive integer (got ${JSON.stringify(v)})`, { field: 'id' });
  return n as number;
}

/**
 * Settle one open conflict by hand. With `winner` (one of its two facts) the other fact is
 * invalidated, with the conflict named as the reason, and its other open conflicts close with
 * it; with `keepBoth` the conflict is closed and both facts stay as they are.
 */
export async function resolveFactConflict(db: Queryable, conflictId: number | string, how: FactConflictResolution): Promise<FactConflict> {
  const id = checkConflictId(conflictId);
  if (typeof how !== 'object' || how === null) throw invalidInput('give { winner: factId } or { keepBoth: true }');
  const winnerGiven = 'winner' in how && how.winner !== undefined;
  const keepBoth = 'keepBoth' in how && how.keepBoth === true;
  if (winnerGiven === keepBoth) throw invalidInput('give exactly one of winner (a fact id) or keepBoth: true', { field: 'winner' });
  const winner = winnerGiven ? checkUuid((how as { winner: unknown }).winner, 'winner') : null;
  const note = how.note === undefined ? null : checkOptionalString(how.note, 'note', 10_000);
  const by = how.by === undefined ? null : checkOptionalString(how.by, 'by', 200);
  return inTransaction(db, async (q) => {
    const pre = await q.query<{ subject: string; predicate: string }>('SELECT subject, predicate FROM fact_conflicts WHERE id = $1', [id]);
    const g = pre.rows[0];
    if (!g) throw notFound(`fact conflict ${id} does not exist`, { id });
    // Group lock first, as the conflict trigger does, then the row.
    await q.query('SELECT facts_lock_group($1, $2)', [g.subject, g.predicate]);
    const cur = await q.query<{ status: string; fact_id: string; other_fact_id: string }>(
      'SELECT status, fact_id::text AS fact_id, other_fact_id::text AS other_fact_id FROM fact_conflicts WHERE id = $1 FOR UPDATE',
      [id],
    );
    const c = cur.rows[0];
    if (!c) throw notFound(`fact conflict ${id} does not exist`, { id });
    if (c.status !== 'open') throw new SeedCoreError('SEEDCORE_CONFLICT', `fact conflict ${id} is already resolved`, { details: { id } });
    if (winner !== null && winner !== c.fact_id && winner !== c.other_fact_id)
      throw invalidInput(`winner must be one of the conflict's facts: ${c.fact_id} or ${c.other_fact_id}`, { field: 'winner' });
    await q.query(
      `UPDATE fact_conflicts SET status = 'resolved', resolution = $2, winner_fact_id = $3::uuid, note = $4, resolved_by = $5, resolved_at = now() WHERE id = $1`,
      [id, winner ? 'winner' : 'keep_both', winner, note, by],
    );
    if (winner !== null) {
      const loser = winner === c.fact_id ? c.other_fact_id : c.fact_id;
      await q.query(
        `UPDATE facts SET valid_to = greatest(now(), coalesce(valid_from, created_at)), invalid_reason = $2
          WHERE id = $1 AND valid_to IS NULL`,
        [loser, `conflict ${id} resolved in favour of ${winner}${note ? `: ${note}` : ''}`],
      );
    }
    return getFactConflict(q, id);
  });
}

export function checkPolicy(v: unknown): FactPolicy {
  if (typeof v !== 'string' || !(FACT_POLICIES as readonly string[]).includes(v))
    throw invalidInput(`policy must be one of ${FACT_POLICIES.join(', ')} (got ${JSON.stringify(v)})`, { field: 'policy' });
  return v as FactPolicy;
}

export interface PredicatePolicy {
  predicate: string;
  policy: FactPolicy;
  updated_at: Date;
}

/** Set the resolution policy of a predicate and re-apply it to every subject that has it. */
export async function setPredicatePolicy(db: Queryable, predicate: string, policy: FactPolicy): Promise<PredicatePolicy> {
  const pred = checkOptionalString(predicate, 'predicate');
  if (pred === null) throw invalidInput('predicate must be a non-empty string', { field: 'predicate' });
  const pol = checkPolicy(policy);
  return inTransaction(db, async (q) => {
    const r = await q.query<PredicatePolicy>(
      `INSERT INTO fact_predicate_policies (predicate, policy) VALUES ($1, $2)
       ON CONFLICT (predicate) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now() RETURNING predicate, policy, updated_at`,
      [pred, pol],
    );
    const subjects = await q.query<{ subject: string }>('SELECT DISTINCT subject FROM facts WHERE predicate = $1 AND subject IS NOT NULL ORDER BY 1', [pred]);
    for (const s of subjects.rows) {
      await q.query('SELECT facts_lock_group($1, $2)', [s.subject, pred]);
      await q.query('SELECT facts_refresh_group($1, $2)', [s.subject, pred]);
    }
    return r.rows[0] as PredicatePolicy;
  });
}

/** Predicates with a policy of their own (every other predicate is keep_both). */
export async function listPredicatePolicies(db: Queryable): Promise<PredicatePolicy[]> {
  return (await db.query<PredicatePolicy>('SELECT predicate, policy, updated_at FROM fact_predicate_policies ORDER BY predicate')).rows;
}
