import type { Command } from 'commander';
import { addFact, deleteFact, getFact, searchFacts, updateFact, MAX_SEARCH_LIMIT, type Fact, type FactPatch } from '../facts/index.js';
import { invalidInput } from '../errors.js';
import { openDb, output, parseIntOption, parseJsonOption } from './context.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function jsonObject(name: string, value: string): Record<string, unknown> {
  const v = parseJsonOption(name, value);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidInput(`${name} must be a JSON object`);
  return v as Record<string, unknown>;
}

function human(f: Fact): string {
  const tags = f.tags.length ? ` [${f.tags.join(', ')}]` : '';
  return `${f.id}${tags}\n  ${f.text}\n  meta ${JSON.stringify(f.meta_data)}  updated ${f.updated_at.toISOString()}`;
}

async function withDb<T>(cmd: Command, fn: (db: Awaited<ReturnType<typeof openDb>>) => Promise<T>): Promise<T> {
  const db = await openDb(cmd, { poolSize: 2 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export function registerFactsCommands(program: Command): void {
  const facts = program.command('facts').description('the facts knowledge base: add, get, update, delete and full-text search');

  facts
    .command('add')
    .description('add a fact')
    .argument('<text>', 'the fact, in English prose')
    .option('--tag <tag>', 'a tag (repeatable)', collect)
    .option('--meta <json>', 'metadata, a JSON object')
    .action(async (text: string, opts: { tag?: string[]; meta?: string }, cmd: Command) => {
      const fact = await withDb(cmd, (db) => addFact(db, { text, tags: opts.tag ?? [], meta_data: opts.meta ? jsonObject('--meta', opts.meta) : {} }));
      output(cmd, fact, () => human(fact));
    });

  facts
    .command('get')
    .description('show one fact by id or unique id prefix')
    .argument('<id>', 'fact id or prefix (at least 4 hex digits)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const fact = await withDb(cmd, (db) => getFact(db, id));
      output(cmd, fact, () => human(fact));
    });

  facts
    .command('update')
    .description('replace the text, tags or metadata of a fact')
    .argument('<id>', 'fact id or prefix')
    .option('--text <text>', 'new text')
    .option('--tag <tag>', 'new tags (repeatable; replaces all tags)', collect)
    .option('--clear-tags', 'remove all tags')
    .option('--meta <json>', 'new metadata, a JSON object (replaces it)')
    .action(async (id: string, opts: { text?: string; tag?: string[]; clearTags?: boolean; meta?: string }, cmd: Command) => {
      const patch: FactPatch = {};
      if (opts.text !== undefined) patch.text = opts.text;
      if (opts.tag !== undefined || opts.clearTags) patch.tags = opts.tag ?? [];
      if (opts.meta !== undefined) patch.meta_data = jsonObject('--meta', opts.meta);
      const fact = await withDb(cmd, (db) => updateFact(db, id, patch));
      output(cmd, fact, () => human(fact));
    });

  facts
    .command('delete')
    .description('delete a fact (and its task edges)')
    .argument('<id>', 'fact id or prefix')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const fact = await withDb(cmd, (db) => deleteFact(db, id));
      output(cmd, { deleted: fact.id }, () => `deleted ${fact.id}`);
    });

  facts
    .command('search')
    .description('full-text search, best first: words, "phrases", or, -exclusion (English stemming); no query lists newest first')
    .argument('[query...]', 'web-search style query')
    .option('--tag <tag>', 'keep facts with this tag (repeatable: any of them)', collect)
    .option('--all-tags', 'require every --tag instead of any')
    .option('--meta <json>', 'keep facts whose metadata contains this JSON object')
    .option('--limit <n>', `results (1..${MAX_SEARCH_LIMIT})`, parseIntOption('--limit', 1, MAX_SEARCH_LIMIT), 20)
    .option('--cursor <cursor>', 'continue after a previous page (printed on stderr when more results exist)')
    .action(async (words: string[], opts: { tag?: string[]; allTags?: boolean; meta?: string; limit: number; cursor?: string }, cmd: Command) => {
      const page = await withDb(cmd, (db) =>
        searchFacts(db, {
          query: words.join(' '),
          limit: opts.limit,
          ...(opts.tag ? { tags: opts.tag } : {}),
          ...(opts.allTags ? { allTags: true } : {}),
          ...(opts.meta ? { meta: jsonObject('--meta', opts.meta) } : {}),
          ...(opts.cursor ? { cursor: opts.cursor } : {}),
        }),
      );
      const hits = page.hits.map((h) => ({
        id: h.id,
        text: h.text,
        tags: h.tags,
        meta_data: h.meta_data,
        rank: h.rank,
        snippet: h.snippet,
        created_at: h.created_at,
        updated_at: h.updated_at,
      }));
      output(cmd, hits, () =>
        hits.length ? hits.map((h) => `${h.rank.toFixed(4)}  ${h.id}  ${h.snippet.replace(/<\/?b>/g, '*')}`).join('\n') : 'no facts found',
      );
      if (page.nextCursor) process.stderr.write(`more results: --cursor ${page.nextCursor}\n`);
    });
}
