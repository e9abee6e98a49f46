/**
 * Organs: workers of the agent layer. A worker started with an organ registers it
 * (organ_registry, its agent in agent_registry with agent__member_of__organ), joins the
 * runtime registry with the organ id as its logical id, and writes what it provides as the
 * edges organ__provides__capability (with the version, migration 025) and
 * organ__provides__skill. Each start states the organ's whole offer: capabilities and skills
 * it no longer advertises are withdrawn. A provider is live while an alive registry instance
 * (current epoch, fresh heartbeat: the view active_instances) has the organ id as logical id.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Db, Queryable } from '../db/types.js';
import { invalidInput, notFound } from '../errors.js';
import { Page } from '../tasks/rows.js';
import type { OrganOptions } from '../tasks/dispatcher-options.js';

/** A dotted-number version: '2', '1.4.0' (at most 8 parts of at most 9 digits; the 025 check). */
export const VERSION_PATTERN = /^[0-9]{1,9}(\.[0-9]{1,9}){0,7}$/;
/** Capability and skill names: no spaces, commas, '@' or comparison signs (they separate constraints). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$/;

/** An organ's offer after validation: names trimmed, duplicates refused. */
export interface OrganSpec {
  id: string;
  agentId: string | null;
  capabilities: { name: string; version: string }[];
  skills: string[];
}

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));

function checkId(path: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 200 || /\s/.test(v))
    throw invalidInput(`${path}: expected a non-empty id without spaces (at most 200 characters), got ${show(v)}`, { field: path });
  return v;
}

/**
 * Validate an organ option (SEEDCORE_INVALID_INPUT, nothing written). Pure: the worker calls
 * it before it registers anything.
 */
export function validateOrgan(organ: OrganOptions, path = 'organ'): OrganSpec {
  if (typeof organ !== 'object' || organ === null)
    throw invalidInput(`${path}: expected an object { id, agentId?, capabilities?, skills? }, got ${show(organ)}`, { field: path });
  const id = checkId(`${path}.id`, organ.id);
  const agentId = organ.agentId === undefined ? null : checkId(`${path}.agentId`, organ.agentId);
  const caps = organ.capabilities ?? [];
  if (!Array.isArray(caps))
    throw invalidInput(`${path}.capabilities: expected an array of { name, version }, got ${show(caps)}`, { field: `${path}.capabilities` });
  const seen = new Set<string>();
  const capabilities = caps.map((c, i) => {
    const p = `${path}.capabilities[${i}]`;
    if (typeof c !== 'object' || c === null) throw invalidInput(`${p}: expected { name, version }, got ${show(c)}`, { field: p });
    if (typeof c.name !== 'string' || !NAME_PATTERN.test(c.name))
      throw invalidInput(`${p}.name: expected a capability name (letters, digits, _ . : / -), got ${show(c.name)}`, { field: `${p}.name` });
    if (typeof c.version !== 'string' || !VERSION_PATTERN.test(c.version))
      throw invalidInput(`${p}.version: expected a dotted-number version such as 2 or 1.4.0, got ${show(c.version)}`, { field: `${p}.version` });
    if (seen.has(c.name)) throw invalidInput(`${p}.name: capability '${c.name}' is listed twice`, { field: `${p}.name` });
    seen.add(c.name);
    return { name: c.name, version: c.version };
  });
  const sk = organ.skills ?? [];
  if (!Array.isArray(sk)) throw invalidInput(`${path}.skills: expected an array of skill names, got ${show(sk)}`, { field: `${path}.skills` });
  const skills = [
    ...new Set(
      sk.map((s, i) => {
        if (typeof s !== 'string' || !NAME_PATTERN.test(s))
          throw invalidInput(`${path}.skills[${i}]: expected a skill name (letters, digits, _ . : / -), got ${show(s)}`, { field: `${path}.skills[${i}]` });
        return s;
      }),
    ),
  ];
  return { id, agentId, capabilities, skills };
}

/**
 * Parse the CLI form `name@version,name@version` (a bare name is refused: a provider states
 * its version). Throws SEEDCORE_INVALID_INPUT naming the bad item.
 */
export function parseCapabilityList(text: string, flag = '--capabilities'): { name: string; version: string }[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw invalidInput(`${flag}: expected name@version[,name@version…], got '${text}'`, { field: flag });
  return items.map((item) => {
    const at = item.lastIndexOf('@');
    const name = at > 0 ? item.slice(0, at) : '';
    const version = at > 0 ? item.slice(at + 1) : '';
    if (!NAME_PATTERN.test(name) || !VERSION_PATTERN.test(version))
      throw invalidInput(`${flag}: expected name@version with a dotted-number version (e.g. summarize@2, embed@1.4.0), got '${item}'`, { field: flag });
    return { name, version };
  });
}

/** An organ described as text: command-line flags or environment variables. */
export interface OrganText {
  organ?: string | undefined;
  agent?: string | undefined;
  capabilities?: string | undefined;
  skills?: string | undefined;
}

/** What each part of an OrganText is called where it came from, for error messages. */
export interface OrganTextNames {
  organ: string;
  agent: string;
  capabilities: string;
  skills: string;
}

/** The worker's and serve's flags. */
export const ORGAN_FLAGS: OrganTextNames = { organ: '--organ', agent: '--agent', capabilities: '--capabilities', skills: '--skills' };
/** serve's settings for its embedded worker. */
export const ORGAN_ENV: OrganTextNames = {
  organ: 'SEEDCORE_ORGAN',
  agent: 'SEEDCORE_ORGAN_AGENT',
  capabilities: 'SEEDCORE_ORGAN_CAPABILITIES',
  skills: 'SEEDCORE_ORGAN_SKILLS',
};

/**
 * Parse an organ given as text (`--organ ID --agent ID --capabilities a@1,b@2 --skills x,y`,
 * or the SEEDCORE_ORGAN* settings) into validated OrganOptions; undefined when no organ is
 * given. SEEDCORE_INVALID_INPUT names the flag or setting: a bad id, capability or skill, or
 * an agent, capabilities or skills without the organ. Pure: nothing is opened or written.
 */
export function organFromText(text: OrganText, names: OrganTextNames = ORGAN_FLAGS): OrganOptions | undefined {
  if (text.organ === undefined) {
    for (const part of ['agent', 'capabilities', 'skills'] as const)
      if (text[part] !== undefined) throw invalidInput(`${names[part]} describes an organ: give ${names.organ} <id> too`, { field: names[part] });
    return undefined;
  }
  const id = (field: string, v: string): string => {
    const t = v.trim();
    if (t === '' || /\s/.test(t) || t.length > 200)
      throw invalidInput(`${field}: expected a non-empty id without spaces (at most 200 characters), got '${v}'`, { field });
    return t;
  };
  const skills = text.skills
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of skills ?? [])
    if (!NAME_PATTERN.test(s)) throw invalidInput(`${names.skills}: expected skill names (letters, digits, _ . : / -), got '${s}'`, { field: names.skills });
  const organ: OrganOptions = {
    id: id(names.organ, text.organ),
    ...(text.agent !== undefined ? { agentId: id(names.agent, text.agent) } : {}),
    ...(text.capabilities !== undefined ? { capabilities: parseCapabilityList(text.capabilities, names.capabilities) } : {}),
    ...(skills ? { skills } : {}),
  };
  validateOrgan(organ);
  return organ;
}

/** serve's organ from the environment (SEEDCORE_ORGAN, _AGENT, _CAPABILITIES, _SKILLS), or undefined. */
export function organFromEnvironment(env: NodeJS.ProcessEnv = process.env): OrganOptions | undefined {
  // An empty variable counts as unset, as for the other SEEDCORE_* settings.
  const read = (name: string): string | undefined => (env[name] === undefined || env[name].trim() === '' ? undefined : env[name]);
  return organFromText(
    { organ: read(ORGAN_ENV.organ), agent: read(ORGAN_ENV.agent), capabilities: read(ORGAN_ENV.capabilities), skills: read(ORGAN_ENV.skills) },
    ORGAN_ENV,
  );
}

/**
 * Register the organ and replace its offer, in one transaction: organ_registry (and the
 * agent with its membership edge), the capability rows it names, its provides edges with
 * versions, and the withdrawal of edges it no longer advertises. Returns what was withdrawn.
 */
export async function registerOrgan(db: Db, spec: OrganSpec): Promise<{ withdrawn: { capabilities: string[]; skills: string[] } }> {
  return db.transaction(async (tx) => {
    if (spec.agentId !== null) {
      await tx.query('SELECT ensure_agent_node($1)', [spec.agentId]);
    }
    await tx.query('SELECT ensure_organ_node($1)', [spec.id]);
    if (spec.agentId !== null) {
      await tx.query('UPDATE organ_registry SET agent_id = $2 WHERE organ_id = $1 AND agent_id IS DISTINCT FROM $2', [spec.id, spec.agentId]);
      await tx.query('INSERT INTO agent_member_of_organ (agent_id, organ_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [spec.agentId, spec.id]);
    }
    const names = spec.capabilities.map((c) => c.name);
    const versions = spec.capabilities.map((c) => c.version);
    await tx.query('INSERT INTO capability (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING', [names]);
    const goneCaps = await tx.query<{ name: string }>(
      `DELETE FROM organ_provides_capability e USING capability c
        WHERE e.organ_id = $1 AND c.capability_id = e.capability_id AND NOT (c.name = ANY($2::text[]))
        RETURNING c.name`,
      [spec.id, names],
    );
    await tx.query(
      `INSERT INTO organ_provides_capability (organ_id, capability_id, version)
       SELECT $1, c.capability_id, v.version
         FROM unnest($2::text[], $3::text[]) AS v(name, version)
         JOIN capability c ON c.name = v.name
       ON CONFLICT (organ_id, capability_id) DO UPDATE SET version = EXCLUDED.version
         WHERE organ_provides_capability.version IS DISTINCT FROM EXCLUDED.version`,
      [spec.id, names, versions],
    );
    await tx.query('INSERT INTO skill (skill_name) SELECT unnest($1::text[]) ON CONFLICT (skill_name) DO NOTHING', [spec.skills]);
    const goneSkills = await tx.query<{ skill_name: string }>(
      'DELETE FROM organ_provides_skill WHERE organ_id = $1 AND NOT (skill_name = ANY($2::text[])) RETURNING skill_name',
      [spec.id, spec.skills],
    );
    await tx.query('INSERT INTO organ_provides_skill (organ_id, skill_name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [spec.id, spec.skills]);
    return { withdrawn: { capabilities: goneCaps.rows.map((r) => r.name).sort(), skills: goneSkills.rows.map((r) => r.skill_name).sort() } };
  });
}

/** One capability of a live organ, served by one alive registry instance. */
export interface LiveProvider {
  capability: string;
  /** The version on the organ's edge; null for an edge written without one. */
  version: string | null;
  organId: string;
  instanceId: string;
}

/**
 * The live providers: every (capability, organ, alive instance) whose registry instance has
 * the organ id as logical id and is alive in the current epoch with a fresh heartbeat.
 * Embeddable: the claim and the discovery endpoint can use the same condition.
 */
export const LIVE_PROVIDERS_SQL = `
  SELECT c.name AS capability, e.version, e.organ_id AS "organId", ai.instance_id::text AS "instanceId"
    FROM organ_provides_capability e
    JOIN capability c ON c.capability_id = e.capability_id
    JOIN active_instances ai ON ai.logical_id = e.organ_id`;

/** Live providers, optionally of one capability; ordered by capability, organ, instance. */
export async function liveProviders(db: Queryable, options: { capability?: string } = {}): Promise<LiveProvider[]> {
  const r = await db.query<LiveProvider>(
    `SELECT * FROM (${LIVE_PROVIDERS_SQL}) p WHERE $1::text IS NULL OR p.capability = $1 ORDER BY capability, "organId", "instanceId"`,
    [options.capability ?? null],
  );
  return r.rows;
}

/** An organ as registered: its agent, its offer and the instances serving it now. */
export const OrganSchema = Type.Object({
  organId: Type.String(),
  agentId: Type.Union([Type.String(), Type.Null()], { description: 'The agent the organ belongs to (organ_registry.agent_id).' }),
  capabilities: Type.Array(
    Type.Object({
      name: Type.String(),
      version: Type.Union([Type.String(), Type.Null()], {
        description: 'The version on the organ__provides__capability edge; null: written without one (counts as 0).',
      }),
    }),
    { description: 'What the organ provides, by name.' },
  ),
  skills: Type.Array(Type.String(), { description: 'Skills the organ provides (organ__provides__skill), by name.' }),
  instances: Type.Array(Type.String({ format: 'uuid' }), {
    description: 'Alive registry instances (current epoch, fresh heartbeat) whose logical id is the organ id.',
  }),
});
export type OrganInfo = Static<typeof OrganSchema>;
export const OrganPageSchema = Page(OrganSchema);
export interface OrganPage {
  items: OrganInfo[];
  nextCursor: string | null;
}

/** Most organs on one page. */
export const MAX_ORGAN_PAGE = 1000;

export interface ListOrgansOptions {
  /** Only these organs (e.g. the logical ids of the instances a page shows). */
  organIds?: readonly string[];
  /** Organs per page, 1..1000. @defaultValue 100 */
  limit?: number;
  /** nextCursor of the previous page. */
  cursor?: string;
}

const ORGAN_SELECT = `
  SELECT o.organ_id AS "organId", o.agent_id AS "agentId",
         coalesce((SELECT jsonb_agg(jsonb_build_object('name', c.name, 'version', e.version) ORDER BY c.name)
                     FROM organ_provides_capability e JOIN capability c ON c.capability_id = e.capability_id
                    WHERE e.organ_id = o.organ_id), '[]'::jsonb) AS capabilities,
         coalesce((SELECT jsonb_agg(s.skill_name ORDER BY s.skill_name) FROM organ_provides_skill s
                    WHERE s.organ_id = o.organ_id), '[]'::jsonb) AS skills,
         coalesce((SELECT jsonb_agg(ai.instance_id::text ORDER BY ai.instance_id) FROM active_instances ai
                    WHERE ai.logical_id = o.organ_id), '[]'::jsonb) AS instances
    FROM organ_registry o`;

/** The cursor is the last organ id of the page (organs are listed by id). */
function decodeOrganCursor(cursor: string): string {
  try {
    const p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') return p[0];
  } catch {
    // fall through
  }
  throw invalidInput(`cursor: expected a nextCursor of an earlier page, got ${JSON.stringify(cursor)}`, {
    path: 'cursor',
    expected: 'a nextCursor',
    got: cursor,
  });
}

/**
 * Registered organs with their agent, offer (capabilities with versions, skills) and alive
 * instances, by organ id, one page at a time: `{ items, nextCursor }` like every list
 * (GET /api/organs and `seedcore organs list --json` answer the same).
 */
export async function listOrgans(db: Queryable, options: ListOrgansOptions = {}): Promise<OrganPage> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ORGAN_PAGE)
    throw invalidInput(`limit: expected an integer between 1 and ${MAX_ORGAN_PAGE}, got ${JSON.stringify(limit)}`, {
      path: 'limit',
      expected: `1..${MAX_ORGAN_PAGE}`,
      got: String(limit),
    });
  const after = options.cursor === undefined ? null : decodeOrganCursor(options.cursor);
  const r = await db.query<OrganInfo>(
    `${ORGAN_SELECT}
      WHERE ($1::text[] IS NULL OR o.organ_id = ANY($1::text[])) AND ($2::text IS NULL OR o.organ_id > $2)
      ORDER BY o.organ_id
      LIMIT $3`,
    [options.organIds ? [...options.organIds] : null, after, limit + 1],
  );
  const items = r.rows.slice(0, limit).map(toOrgan);
  const last = items[items.length - 1];
  return { items, nextCursor: r.rows.length > limit && last ? Buffer.from(JSON.stringify([last.organId])).toString('base64url') : null };
}

/** One registered organ (SEEDCORE_NOT_FOUND when there is none). */
export async function getOrgan(db: Queryable, organId: string): Promise<OrganInfo> {
  const r = await db.query<OrganInfo>(`${ORGAN_SELECT} WHERE o.organ_id = $1`, [organId]);
  const row = r.rows[0];
  if (!row) throw notFound(`no organ '${organId}' is registered`, { organId });
  return toOrgan(row);
}

/** jsonb columns arrive parsed from pg and PGlite alike; copy them into plain arrays. */
function toOrgan(r: OrganInfo): OrganInfo {
  const parse = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);
  return { organId: r.organId, agentId: r.agentId, capabilities: parse(r.capabilities), skills: parse(r.skills), instances: parse(r.instances) };
}
