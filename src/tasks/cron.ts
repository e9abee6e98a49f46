/**
 * A small 5-field cron parser and "next slot" search, with IANA time zones (no dependency).
 *
 *   ┌ minute 0-59 ┌ hour 0-23 ┌ day of month 1-31 ┌ month 1-12 or jan-dec ┌ day of week 0-7 or sun-sat (0 and 7 = Sunday)
 *   *             *           *                   *                       *
 *
 * Each field is a comma-separated list of `*`, `n`, `a-b`, each optionally followed by `/step`
 * (`n/step` means n to the field maximum). Macros: @yearly (@annually), @monthly, @weekly,
 * @daily (@midnight), @hourly. As in Vixie cron, when both day of month and day of week are
 * restricted (neither starts with `*`), a day matches if either matches.
 *
 * Slots are wall-clock minutes in the schedule's time zone. A wall time that does not exist
 * (spring-forward gap) is skipped; one that occurs twice (fall-back) fires at its first
 * occurrence.
 */
import { invalidInput } from '../errors.js';

export interface CronSpec {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
  /** Day of month restricted (field did not start with `*`). */
  domRestricted: boolean;
  /** Day of week restricted. */
  dowRestricted: boolean;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function parseField(expr: string, field: string, min: number, max: number, names?: string[], nameBase = 0): Set<number> {
  const out = new Set<number>();
  const bad = (why: string): never => {
    throw invalidInput(`cron ${field} field '${expr}': ${why}`, { field });
  };
  const num = (s: string): number => {
    const lower = s.toLowerCase();
    if (names) {
      const i = names.indexOf(lower);
      if (i >= 0) return i + nameBase;
    }
    if (!/^\d+$/.test(s)) bad(`'${s}' is not a number${names ? ' or name' : ''}`);
    const n = Number(s);
    if (n < min || n > max) bad(`${n} is outside ${min}-${max}`);
    return n;
  };
  if (expr === '') bad('empty');
  for (const item of expr.split(',')) {
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined || range === undefined || range === '') bad(`'${item}' is malformed`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) bad(`step '${stepText}' must be a positive integer`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = min;
      hi = max;
    } else if ((range as string).includes('-')) {
      const parts = (range as string).split('-');
      if (parts.length !== 2) bad(`'${range}' is not a range a-b`);
      lo = num(parts[0] as string);
      hi = num(parts[1] as string);
      if (lo > hi) bad(`range ${lo}-${hi} is backwards`);
    } else {
      lo = num(range as string);
      hi = stepText !== undefined ? max : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Parse a 5-field cron expression (or a macro); SEEDCORE_INVALID_INPUT with the reason otherwise. */
export function parseCron(text: string): CronSpec {
  if (typeof text !== 'string') throw invalidInput('cron must be a string');
  const trimmed = text.trim();
  const expanded = MACROS[trimmed.toLowerCase()] ?? trimmed;
  const f = expanded.split(/\s+/);
  if (f.length !== 5) throw invalidInput(`cron '${text}' must have 5 fields (minute hour day-of-month month day-of-week) or be a macro like @daily`);
  const [mi, ho, dom, mon, dow] = f as [string, string, string, string, string];
  const weekdays = parseField(dow, 'day-of-week', 0, 7, WEEKDAYS);
  if (weekdays.has(7)) {
    weekdays.delete(7);
    weekdays.add(0);
  }
  return {
    minutes: parseField(mi, 'minute', 0, 59),
    hours: parseField(ho, 'hour', 0, 23),
    days: parseField(dom, 'day-of-month', 1, 31),
    months: parseField(mon, 'month', 1, 12, MONTHS, 1),
    weekdays,
    domRestricted: !dom.startsWith('*'),
    dowRestricted: !dow.startsWith('*'),
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws SEEDCORE_INVALID_INPUT unless `tz` is an IANA zone name this runtime knows. */
export function checkTimeZone(tz: string): string {
  try {
    formatter(tz);
    return tz;
  } catch {
    throw invalidInput(`unknown time zone '${tz}' (use an IANA name such as UTC or Europe/Berlin)`, { field: 'timezone' });
  }
}

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall clock of `instantMs` in `tz`, as a "naive" epoch (wall fields read as UTC), minute precision. */
function wallOf(instantMs: number, tz: string): number {
  if (tz === 'UTC') return Math.floor(instantMs / 60_000) * 60_000;
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(instantMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year as number, (p.month as number) - 1, p.day as number, p.hour as number, p.minute as number);
}

/** The first instant whose wall clock in `tz` is `wall`, or null when that wall time does not exist (DST gap). */
function instantOf(wall: number, tz: string): number | null {
  if (tz === 'UTC') return wall;
  // Offsets differ by at most a day; try the offsets around the guess, keep the earliest exact hit.
  const guessOffset = wallOf(wall, tz) - wall;
  const candidates = new Set<number>([wall - guessOffset]);
  for (const c of [...candidates]) {
    const off = wallOf(c, tz) - c;
    candidates.add(wall - off);
    candidates.add(wall - off - 3_600_000);
    candidates.add(wall - off + 3_600_000);
  }
  let best: number | null = null;
  for (const c of candidates) if (wallOf(c, tz) === wall && (best === null || c < best)) best = c;
  return best;
}

function dayMatches(spec: CronSpec, d: Date): boolean {
  const dom = spec.days.has(d.getUTCDate());
  const dow = spec.weekdays.has(d.getUTCDay());
  if (spec.domRestricted && spec.dowRestricted) return dom || dow;
  return dom && dow;
}

/**
 * The first slot strictly after `after` (an instant), or null when none exists within ~8 years
 * (e.g. `0 0 30 2 *`).
 */
export function nextSlot(spec: CronSpec, after: Date, tz = 'UTC'): Date | null {
  const afterMs = after.getTime();
  let wall = wallOf(afterMs, tz) + 60_000;
  const limit = wall + 8 * 366 * 86_400_000;
  while (wall < limit) {
    const d = new Date(wall);
    if (!spec.months.has(d.getUTCMonth() + 1)) {
      wall = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      continue;
    }
    if (!dayMatches(spec, d)) {
      wall = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
      continue;
    }
    if (!spec.hours.has(d.getUTCHours())) {
      wall = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
      continue;
    }
    if (!spec.minutes.has(d.getUTCMinutes())) {
      wall += 60_000;
      continue;
    }
    const instant = instantOf(wall, tz);
    if (instant !== null && instant > afterMs) return new Date(instant);
    wall += 60_000;
  }
  return null;
}

/**
 * The latest slot in (after, now], or null when there is none: the slot a scheduler fires now.
 * Slots missed while no worker ran collapse into this one.
 */
export function latestSlot(spec: CronSpec, after: Date, now: Date, tz = 'UTC'): Date | null {
  let from = after;
  // Very long outages of frequent schedules: do not walk months minute by minute.
  if (now.getTime() - from.getTime() > 2 * 86_400_000) {
    const recent = nextSlot(spec, new Date(now.getTime() - 2 * 86_400_000), tz);
    if (recent && recent.getTime() <= now.getTime()) from = new Date(recent.getTime() - 60_000);
  }
  let latest: Date | null = null;
  for (let s = nextSlot(spec, from, tz); s !== null && s.getTime() <= now.getTime(); s = nextSlot(spec, s, tz)) latest = s;
  return latest;
}
