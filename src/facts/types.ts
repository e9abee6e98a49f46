import type { FactRef } from '../tasks/types.js';

/** A stored fact: the handler-facing fields plus its timestamps (database clock). */
export interface Fact extends FactRef {
  created_at: Date;
  updated_at: Date;
}

/** Input for addFact. */
export interface NewFact {
  /** The fact, in English prose; must contain non-whitespace. */
  text: string;
  /** Free tags (non-empty strings, duplicates removed). @defaultValue [] */
  tags?: string[];
  /** A JSON object. @defaultValue {} */
  meta_data?: Record<string, unknown>;
}

/** Fields to change with updateFact; at least one must be given. Each replaces the stored value. */
export interface FactPatch {
  text?: string;
  tags?: string[];
  meta_data?: Record<string, unknown>;
}

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
  /** Keep facts whose meta_data contains this JSON object (jsonb @>). */
  meta?: Record<string, unknown>;
  /** Page size, 1..1000. @defaultValue 20 */
  limit?: number;
  /** `nextCursor` of the previous page, to continue after it. */
  cursor?: string;
  /**
   * Rank at most this many matching facts (ranking reads every candidate; see
   * DEFAULT_MAX_CANDIDATES). 0 ranks all matches exactly, whatever it costs. @defaultValue 5000
   */
  maxCandidates?: number;
}

/** One search result, best first. */
export interface FactSearchHit extends Fact {
  /** ts_rank_cd with normalization 32 (0..1); 0 when listing without a query. */
  rank: number;
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
