import type { Command } from 'commander';
import {
  addFact,
  createFactsApi,
  deleteFact,
  factVersions,
  getFact,
  getFactProvenance,
  invalidateFact,
  listPredicatePolicies,
  resolveFactConflict,
  setPredicatePolicy,
  snippetToText,
  updateFact,
  FACT_POLICIES,
  FACT_SOURCE_KINDS,
  MAX_PROVENANCE_DEPTH,
  MAX_SEARCH_LIMIT,
  type Fact,
  type FactConflict,
  type FactPatch,
  type FactPolicy,
  type FactSourceInput,
  type FactSourceKind,
  type NewFact,
} from '../facts/index.js';
import { invalidInput } from '../errors.js';
import { openDb, output, parseIntOption, parseJsonOption } from './context.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Option values are handed to the library as parsed (a JSON value, a number) and checked by
 * its schema there, so a bad one gets the error (path, expected, got) the HTTP API gives.
 */
function jsonObject(name: string, value: string): Record<string, unknown> {
  return parseJsonOption(name, value) as Record<string, unknown>;
}

/** A number option passed on as a number when it reads as one, else as given (the library's schema names it). */
function numberOption(value: string): number {
  const n = Number(value);
  return (value.trim() !== '' && Number.isFinite(n) ? n : value) as number;
}

/** `--source kind:ref`, e.g. uri:https://example.org/page or agent:planner. */
function parseSource(s: string): FactSourceInput {
  const i = s.indexOf(':');
  const kind = i > 0 ? s.slice(0, i) : '';
  if (!(FACT_SOURCE_KINDS as readonly string[]).includes(kind))
    throw invalidInput(`--source must be kind:ref with kind one of ${FACT_SOURCE_KINDS.join(', ')} (got '${s}')`);
  return { kind: kind as FactSourceKind, ref: s.slice(i + 1) };
}

/** Plain text, as written: the terminal is not a web page, so nothing is HTML-escaped. */
function human(f: Fact): string {
  const tags = f.tags.length ? ` [${f.tags.join(', ')}]` : '';
  const lines = [`${f.id}${tags}`, `  ${f.text}`];
  if (f.subject !== null) lines.push(`  statement ${f.subject} / ${f.predicate} = ${f.object ?? f.text}`);
  lines.push(
    `  confidence ${f.confidence}  version ${f.version}  valid from ${f.valid_from.toISOString()}${f.valid_to ? ` to ${f.valid_to.toISOString()}` : ''}`,
  );
  if (f.valid_to) lines.push(`  invalidated: ${f.invalid_reason ?? '(no reason given)'}`);
  if (f.superseded) lines.push("  superseded under its predicate's policy (search leaves it out)");
  lines.push(`  meta ${JSON.stringify(f.meta_data)}  updated ${f.updated_at.toISOString()}`);
  return lines.join('\n');
}

function conflictLine(c: FactConflict): string {
  const state = c.status === 'open' ? 'open' : `resolved (${c.resolution}${c.winner_fact_id ? ` ${c.winner_fact_id}` : ''})`;
  return `#${c.id}  ${c.subject} / ${c.predicate}: ${JSON.stringify(c.fact_value)} (${c.fact_id}) vs ${JSON.stringify(c.other_value)} (${c.other_fact_id})  ${state}`;
}

async function withDb<T>(cmd: Command, fn: (db: Awaited<ReturnType<typeof openDb>>) => Promise<T>): Promise<T> {
  const db = await openDb(cmd, { poolSize: 2 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

interface ClaimOpts {
  subject?: string;
  predicate?: string;
  object?: string;
  confidence?: number;
  validFrom?: string;
  validTo?: string;
}

function claimOptions(c: Command): Command {
  return c
    .option('--subject <s>', 'what the fact is about (with --predicate: facts of one subject/predicate can conflict)')
    .option('--predicate <p>', 'the property stated about the subject')
    .option('--object <value>', 'the value stated (default: the text)')
    .option('--confidence <0..1>', 'how sure the asserter is (default 1)', numberOption)
    .option('--valid-from <iso>', 'when the fact starts to hold (ISO 8601; default now)')
    .option('--valid-to <iso>', 'when it stops holding (ISO 8601)');
}

function claimFrom(o: ClaimOpts): Partial<NewFact> {
  return {
    ...(o.subject !== undefined ? { subject: o.subject } : {}),
    ...(o.predicate !== undefined ? { predicate: o.predicate } : {}),
    ...(o.object !== undefined ? { object: o.object } : {}),
    ...(o.confidence !== undefined ? { confidence: o.confidence } : {}),
    ...(o.validFrom !== undefined ? { valid_from: o.validFrom } : {}),
    ...(o.validTo !== undefined ? { valid_to: o.validTo } : {}),
  };
}

export function registerFactsCommands(program: Command): void {
  const facts = program
    .command('facts')
    .description('the facts knowledge base: add, get, update, invalidate, delete, search, provenance, versions and conflicts');

  claimOptions(
    facts
      .command('add')
      .description('add a fact')
      .argument('<text>', 'the fact, in English prose')
      .option('--tag <tag>', 'a tag (repeatable)', collect)
      .option('--meta <json>', 'metadata, a JSON object')
      .option('--source <kind:ref>', `who asserted it (repeatable; kind: ${FACT_SOURCE_KINDS.join(', ')})`, collect)
      .option('--derived-from <id>', 'a fact it was derived from (repeatable)', collect),
  ).action(async (text: string, opts: ClaimOpts & { tag?: string[]; meta?: string; source?: string[]; derivedFrom?: string[] }, cmd: Command) => {
    const input: NewFact = {
      text,
      tags: opts.tag ?? [],
      meta_data: opts.meta ? jsonObject('--meta', opts.meta) : {},
      ...claimFrom(opts),
      ...(opts.source ? { sources: opts.source.map(parseSource) } : {}),
      ...(opts.derivedFrom ? { derivedFrom: opts.derivedFrom } : {}),
    };
    const fact = await withDb(cmd, (db) => addFact(db, input));
    output(cmd, fact, () => human(fact));
  });

  facts
    .command('get')
    .description('show one fact by id or unique id prefix; --provenance adds who said it, from what, and what contradicts it')
    .argument('<id>', 'fact id or prefix (at least 4 hex digits)')
    .option('--provenance', 'also show sources, the derives_from chain and conflicts')
    .option('--depth <n>', `hops of the derives_from chain (1..${MAX_PROVENANCE_DEPTH})`, parseIntOption('--depth', 1, MAX_PROVENANCE_DEPTH), 5)
    .action(async (id: string, opts: { provenance?: boolean; depth: number }, cmd: Command) => {
      if (!opts.provenance) {
        const fact = await withDb(cmd, (db) => getFact(db, id));
        output(cmd, fact, () => human(fact));
        return;
      }
      const p = await withDb(cmd, (db) => getFactProvenance(db, id, { depth: opts.depth }));
      output(cmd, p, () => {
        const src = (s: { kind: string; ref: string }[]) => (s.length ? s.map((x) => `${x.kind}:${x.ref}`).join(', ') : '(none recorded)');
        const lines = [human(p.fact), `  sources ${src(p.sources)}`, `  previous versions ${p.previous_versions}`];
        if (p.derived_by.length) lines.push(`  facts derived from it: ${p.derived_by.join(', ')}`);
        lines.push(
          p.derived_from.length
            ? `derived from (${p.derived_from.length}, depth ≤ ${p.depth}${p.truncated ? ', chain goes on' : ''}):`
            : 'derived from: nothing recorded',
        );
        for (const s of p.derived_from)
          lines.push(
            `${'  '.repeat(s.depth)}${s.fact.id}  ${s.fact.text}  (confidence ${s.fact.confidence}${s.fact.valid_to ? ', invalidated' : ''}${s.open_conflicts ? `, ${s.open_conflicts} open conflicts` : ''}; sources ${src(s.sources)})`,
          );
        lines.push(p.conflicts.length ? 'conflicts:' : 'conflicts: none');
        for (const c of p.conflicts) lines.push(`  ${conflictLine(c)}`);
        return lines.join('\n');
      });
    });

  facts
    .command('history')
    .description('earlier versions of a fact, oldest first (the current one is `facts get`)')
    .argument('<id>', 'fact id or prefix')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const versions = await withDb(cmd, (db) => factVersions(db, id));
      output(cmd, versions, () =>
        versions.length
          ? versions
              .map((v) => `v${v.version}  ${v.recorded_at.toISOString()} .. ${v.replaced_at.toISOString()}  confidence ${v.confidence}\n  ${v.text}`)
              .join('\n')
          : 'no earlier versions',
      );
    });

  claimOptions(
    facts
      .command('update')
      .description('replace the text, tags, metadata or statement fields of a fact (the previous version is kept)')
      .argument('<id>', 'fact id or prefix')
      .option('--text <text>', 'new text')
      .option('--tag <tag>', 'new tags (repeatable; replaces all tags)', collect)
      .option('--clear-tags', 'remove all tags')
      .option('--meta <json>', 'new metadata, a JSON object (replaces it)'),
  ).action(async (id: string, opts: ClaimOpts & { text?: string; tag?: string[]; clearTags?: boolean; meta?: string }, cmd: Command) => {
    const patch: FactPatch = { ...claimFrom(opts) };
    if (opts.text !== undefined) patch.text = opts.text;
    if (opts.tag !== undefined || opts.clearTags) patch.tags = opts.tag ?? [];
    if (opts.meta !== undefined) patch.meta_data = jsonObject('--meta', opts.meta);
    const fact = await withDb(cmd, (db) => updateFact(db, id, patch));
    output(cmd, fact, () => human(fact));
  });

  facts
    .command('invalidate')
    .description('mark a fact as no longer valid; it stays readable with the reason')
    .argument('<id>', 'fact id or prefix')
    .requiredOption('--reason <text>', 'why it no longer holds')
    .option('--at <iso>', 'from when (ISO 8601; default now)')
    .action(async (id: string, opts: { reason: string; at?: string }, cmd: Command) => {
      const fact = await withDb(cmd, (db) => invalidateFact(db, id, { reason: opts.reason, ...(opts.at ? { at: opts.at } : {}) }));
      output(cmd, fact, () => human(fact));
    });

  facts
    .command('delete')
    .description('delete a fact (and its edges, sources, versions and conflicts)')
    .argument('<id>', 'fact id or prefix')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const fact = await withDb(cmd, (db) => deleteFact(db, id));
      output(cmd, { deleted: fact.id }, () => `deleted ${fact.id}`);
    });

  facts
    .command('search')
    .description(
      'full-text search, best first (relevance × (0.5 + 0.5 × confidence)): words, "phrases", or, -exclusion (English stemming); no query lists newest first',
    )
    .argument('[query...]', 'web-search style query')
    .option('--tag <tag>', 'keep facts with this tag (repeatable: any of them)', collect)
    .option('--all-tags', 'require every --tag instead of any')
    .option('--meta <json>', 'keep facts whose metadata contains this JSON object')
    .option('--as-of <iso>', 'facts valid at this instant (superseded ones included); default: valid now')
    .option('--min-confidence <0..1>', 'keep facts at least this sure', numberOption)
    .option('--limit <n>', `results (1..${MAX_SEARCH_LIMIT})`, numberOption, 20)
    .option('--cursor <cursor>', 'continue after a previous page (printed on stderr when more results exist)')
    .action(
      async (
        words: string[],
        opts: { tag?: string[]; allTags?: boolean; meta?: string; asOf?: string; minConfidence?: number; limit: number; cursor?: string },
        cmd: Command,
      ) => {
        // The library checks the options against the schema of GET /api/facts (meta as JSON
        // text, as over HTTP), and --json prints that route's body.
        const page = await withDb(cmd, (db) =>
          createFactsApi(db).search({
            query: words.join(' '),
            limit: opts.limit,
            ...(opts.tag ? { tags: opts.tag } : {}),
            ...(opts.allTags ? { allTags: true } : {}),
            ...(opts.meta !== undefined ? { meta: opts.meta } : {}),
            ...(opts.asOf !== undefined ? { asOf: opts.asOf } : {}),
            ...(opts.minConfidence !== undefined ? { minConfidence: opts.minConfidence } : {}),
            ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
          }),
        );
        // --json keeps the HTML-safe snippet of the API; the terminal gets the text as written.
        output(cmd, { items: page.hits, nextCursor: page.nextCursor }, () =>
          page.hits.length
            ? page.hits
                .map(
                  (h) =>
                    `${h.rank.toFixed(4)}  ${h.id}  ${snippetToText(h.snippet)}${h.confidence < 1 ? `  (confidence ${h.confidence})` : ''}${h.conflicts ? `  [${h.conflicts} open conflict${h.conflicts > 1 ? 's' : ''}]` : ''}`,
                )
                .join('\n')
            : 'no facts found',
        );
        if (page.nextCursor) process.stderr.write(`more results: --cursor ${page.nextCursor}\n`);
      },
    );

  facts
    .command('conflicts')
    .description('conflicts between facts of the same subject/predicate, newest first')
    .option('--status <s>', 'open, resolved or all', 'open')
    .option('--subject <s>', 'only this subject')
    .option('--predicate <p>', 'only this predicate')
    .option('--fact <id>', 'only conflicts this fact is part of')
    .option('--limit <n>', 'results (1..1000)', numberOption, 50)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (opts: { status: string; subject?: string; predicate?: string; fact?: string; limit: number; cursor?: string }, cmd: Command) => {
      const page = await withDb(cmd, (db) =>
        createFactsApi(db).conflicts({
          status: opts.status as 'open',
          limit: opts.limit,
          ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
          ...(opts.predicate !== undefined ? { predicate: opts.predicate } : {}),
          ...(opts.fact !== undefined ? { factId: opts.fact } : {}),
          ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
        }),
      );
      // --json prints the body of GET /api/facts/conflicts.
      output(cmd, page, () => (page.items.length ? page.items.map(conflictLine).join('\n') : `no ${opts.status === 'all' ? '' : `${opts.status} `}conflicts`));
      if (page.nextCursor) process.stderr.write(`more results: --cursor ${page.nextCursor}\n`);
    });

  facts
    .command('resolve')
    .description('resolve a conflict by hand: --winner FACT invalidates the other fact, --keep-both keeps both')
    .argument('<conflict>', 'conflict id (see `facts conflicts`)')
    .option('--winner <fact>', 'the fact that holds')
    .option('--keep-both', 'close the conflict and keep both facts')
    .option('--note <text>', 'why')
    .option('--by <name>', 'who resolved it')
    .action(async (conflict: string, opts: { winner?: string; keepBoth?: boolean; note?: string; by?: string }, cmd: Command) => {
      if ((opts.winner !== undefined) === (opts.keepBoth === true)) throw invalidInput('give exactly one of --winner <fact> or --keep-both');
      const extra = { ...(opts.note ? { note: opts.note } : {}), ...(opts.by ? { by: opts.by } : {}) };
      const c = await withDb(cmd, async (db) => {
        const winner = opts.winner === undefined ? undefined : (await getFact(db, opts.winner)).id;
        return resolveFactConflict(db, conflict, winner ? { winner, ...extra } : { keepBoth: true, ...extra });
      });
      output(cmd, c, () => conflictLine(c));
    });

  const policy = facts.command('policy').description('what search returns when facts of one predicate disagree (default keep_both)');
  policy
    .command('set')
    .description(`set a predicate's policy: ${FACT_POLICIES.join(', ')}`)
    .argument('<predicate>', 'the predicate')
    .argument('<policy>', FACT_POLICIES.join(' | '))
    .action(async (predicate: string, pol: string, _opts: unknown, cmd: Command) => {
      const p = await withDb(cmd, (db) => setPredicatePolicy(db, predicate, pol as FactPolicy));
      output(cmd, p, () => `${p.predicate}: ${p.policy}`);
    });
  policy
    .command('list')
    .description('predicates with a policy of their own')
    .action(async (_opts: unknown, cmd: Command) => {
      const list = await withDb(cmd, (db) => listPredicatePolicies(db));
      output(cmd, list, () => (list.length ? list.map((p) => `${p.predicate}: ${p.policy}`).join('\n') : 'no policies set (every predicate is keep_both)'));
    });
}
