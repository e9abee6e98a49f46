import type { FactRef } from '../tasks/types.js';

/** What a resolution policy lets search return for one subject/predicate whose facts disagree. */
export const FACT_POLICIES = ['latest_wins', 'highest_confidence', 'keep_both'] as const;
export type FactPolicy = (typeof FACT_POLICIES)[number];

/** Who asserted a fact: a task, agent, organ, artifact (by id) or an external URI. */
export const FACT_SOURCE_KINDS = ['task', 'agent', 'organ', 'artifact', 'uri'] as const;
export type FactSourceKind = (typeof FACT_SOURCE_KINDS)[number];

export interface FactSourceInput {
  kind: FactSourceKind;
  /** Task id, agent_id, organ_id, artifact id or URI. */
  ref: string;
}

export interface FactSource extends FactSourceInput {
  created_at: Date;
}

/** A stored fact: the handler-facing fields, the statement it makes, and its trust fields. */
export interface Fact extends FactRef {
  /** What the fact is about; set together with predicate, or both null. */
  subject: string | null;
  predicate: string | null;
  /** The value stated for subject/predicate; conflicts compare `object ?? text`. */
  object: string | null;
  /** 0..1; 1 unless the asserter said otherwise. */
  confidence: number;
  /** When the fact starts to hold (created_at for facts older than migration 019). */
  valid_from: Date;
  /** When it stopped holding; null while valid. An invalidated fact stays readable. */
  valid_to: Date | null;
  invalid_reason: string | null;
  /** 1 for a new fact, +1 on each change; earlier versions via factVersions(). */
  version: number;
  /** True while another fact of the same subject/predicate wins under the predicate's policy. */
  superseded: boolean;
  created_at: Date;
  updated_at: Date;
}

/** The statement and trust fields a new fact or a patch may carry. */
export interface FactClaim {
  subject?: string | null;
  predicate?: string | null;
  object?: string | null;
  /** 0..1. @defaultValue 1 */
  confidence?: number;
  /** ISO 8601 timestamp or Date. @defaultValue now */
  valid_from?: string | Date;
  /** ISO 8601 timestamp or Date; set = invalidated from then on. */
  valid_to?: string | Date | null;
}

/** Input for addFact. */
export interface NewFact extends FactClaim {
  /** The fact, in English prose; must contain non-whitespace. */
  text: string;
  /** Free tags (non-empty strings, duplicates removed). @defaultValue [] */
  tags?: string[];
  /** A JSON object. @defaultValue {} */
  meta_data?: Record<string, unknown>;
  /** Who asserted it. */
  sources?: FactSourceInput[];
  /** Ids of the facts it was derived from (fact__derives_from__fact edges). */
  derivedFrom?: string[];
}

/** Fields to change with updateFact; at least one must be given. Each replaces the stored value. */
export interface FactPatch extends FactClaim {
  text?: string;
  tags?: string[];
  meta_data?: Record<string, unknown>;
  invalid_reason?: string | null;
}

/** One replaced version of a fact (the current version is the fact itself). */
export interface FactVersion {
  fact_id: string;
  version: number;
  text: string;
  tags: string[];
  meta_data: Record<string, unknown>;
  subject: string | null;
  predicate: string | null;
  object: string | null;
  confidence: number;
  valid_from: Date;
  valid_to: Date | null;
  invalid_reason: string | null;
  /** When this version became current. */
  recorded_at: Date;
  /** When an update replaced it. */
  replaced_at: Date;
}

export interface FactConflict {
  id: number;
  subject: string;
  predicate: string;
  /** The newer fact. */
  fact_id: string;
  /** The fact it contradicts. */
  other_fact_id: string;
  /** The two values that disagree (`object ?? text` of each fact). */
  fact_value: string;
  other_value: string;
  detected_at: Date;
  status: 'open' | 'resolved';
  /** winner: resolved by hand for winner_fact_id (the other was invalidated); keep_both; invalidated: one side was invalidated. */
  resolution: 'winner' | 'keep_both' | 'invalidated' | null;
  winner_fact_id: string | null;
  resolved_by: string | null;
  note: string | null;
  resolved_at: Date | null;
}

export interface FactConflictListOptions {
  /** @defaultValue 'open' */
  status?: 'open' | 'resolved' | 'all';
  subject?: string;
  predicate?: string;
  /** Only conflicts this fact is part of. */
  factId?: string;
  /** 1..1000. @defaultValue 50 */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface FactConflictPage {
  items: FactConflict[];
  nextCursor: string | null;
}

/** How to settle a conflict by hand: name the fact that holds (the other is invalidated), or keep both. */
export type FactConflictResolution = { winner: string; note?: string; by?: string } | { keepBoth: true; note?: string; by?: string };

export interface FactSearchOptions {
  /**
   * Web-search syntax (websearch_to_tsquery, English stemming): words are ANDed, "quoted
   * phrases" must be adjacent, `or` between words, a leading `-` excludes. Never raises.
   * Empty or missing: list facts newest first. @defaultValue ''
   */
  query?: string;
  /** Keep facts carrying any of these tags (or all of them with `allTags`). */
  tags?: string[];
  /** Require every tag in `tags` instead of any. @defaultValue false */
  allTags?: boolean;
  /** Keep facts whose meta_data contains this JSON object (jsonb @>), or its JSON text (facts.search parses it). */
  meta?: Record<string, unknown> | string;
  /**
   * Facts valid at this instant (valid_from <= asOf < valid_to), minus those their predicate's
   * policy supersedes among the facts valid then. Without it: facts valid now, minus those
   * superseded by their predicate's policy.
   */
  asOf?: string | Date;
  /** Keep facts with confidence >= this (0..1). */
  minConfidence?: number;
  /** Page size, 1..1000. @defaultValue 20 */
  limit?: number;
  /** `nextCursor` of the previous page, to continue after it. */
  cursor?: string;
  /**
   * Rank at most this many matching facts (ranking reads every candidate; see
   * DEFAULT_MAX_CANDIDATES). 0 ranks all matches exactly, whatever it costs. @defaultValue 2000
   */
  maxCandidates?: number;
}

/** One search result, best first. */
export interface FactSearchHit extends Fact {
  /** text_rank × (0.5 + 0.5 × confidence), the sort key; 0 when listing without a query. */
  rank: number;
  /** ts_rank_cd with normalization 32 (0..1); 0 when listing without a query. */
  text_rank: number;
  /** Open conflicts this fact is part of (0 = nothing contradicts it). */
  conflicts: number;
  /**
   * Highlighted excerpt: HTML-escaped text with each matching word wrapped in `<b>…</b>`
   * (ts_headline, computed only for the returned page). Without a query: the escaped text.
   */
  snippet: string;
}

export interface FactSearchPage {
  hits: FactSearchHit[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  nextCursor: string | null;
  /** True when the query matched at least maxCandidates facts, so only that many were ranked. */
  truncated: boolean;
}

/** A fact reached along derives_from edges. */
export interface ProvenanceStep {
  fact: Fact;
  /** Hops from the fact asked about (1 = it was derived directly from this one). */
  depth: number;
  /** The fact that derives from this one. */
  via: string;
  sources: FactSource[];
  open_conflicts: number;
}

/** Who said it, from what, when, how sure, and what contradicts it. */
export interface FactProvenance {
  fact: Fact;
  sources: FactSource[];
  /** Every conflict the fact is part of, open first. */
  conflicts: FactConflict[];
  /** Replaced versions (history via factVersions). */
  previous_versions: number;
  /** The facts it derives from, breadth first, up to `depth` hops. */
  derived_from: ProvenanceStep[];
  /** Facts derived from it (one hop). */
  derived_by: string[];
  depth: number;
  /** True when the chain goes on beyond `depth`. */
  truncated: boolean;
}
