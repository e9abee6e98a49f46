/**
 * Connection settings for the server backend: each one an option, else an environment
 * variable, else a default chosen so that `DATABASE_URL` pointing at a transaction-mode pooler
 * (PgBouncer, Supabase, Neon) works with nothing else set.
 */
import { invalidInput } from '../errors.js';

export interface ConnectionSettings {
  /**
   * A direct (non-pooled) URL for LISTEN. Transaction-mode poolers do not deliver
   * notifications; without it the listener finds that out by itself and workers poll.
   * @defaultValue process.env.SEEDCORE_LISTEN_URL, else the database URL
   */
  listenUrl?: string | undefined;
  /**
   * Named prepared statements for the worker's hot path. Only for direct connections (or a
   * pooler that tracks them): PgBouncer in transaction mode fails with `prepared statement …
   * already exists`. On a direct connection they save parsing and planning each hot-path
   * statement; measured with bench:queue (10,000 no-op tasks, 3 rounds, on a shared 2-core
   * machine under heavy load) the drain was 6,167 vs 4,424 tasks/s (medians) with rounds
   * overlapping (4,342-6,345 vs 3,486-6,194), and earlier single rounds went both ways: no gain
   * that stands out from the noise, so off costs little.
   * @defaultValue process.env.SEEDCORE_PREPARED_STATEMENTS === 'on', else off
   */
  preparedStatements?: boolean | undefined;
  /**
   * Client-side limit on waiting for a statement's reply, in ms (0 = none). It is what turns a
   * dropped route during a query into an error within seconds instead of TCP's ~15 minutes of
   * retransmissions; the connection is then discarded. Scripts (migrations) and maintenance
   * statements (CREATE INDEX, REINDEX, VACUUM, ANALYZE, CLUSTER, REFRESH) are exempt: they may
   * legitimately run for minutes.
   * @defaultValue process.env.SEEDCORE_QUERY_TIMEOUT_MS ?? 60000
   */
  queryTimeoutMs?: number | undefined;
  /**
   * Server-side `statement_timeout` in ms, sent as a startup parameter (0 = the server's own
   * setting). PgBouncer rejects unknown startup parameters unless listed in
   * `ignore_startup_parameters` (and then ignores them): behind it, prefer
   * `ALTER ROLE … SET statement_timeout`.
   * @defaultValue process.env.SEEDCORE_STATEMENT_TIMEOUT_MS ?? 0
   */
  statementTimeoutMs?: number | undefined;
  /** How long opening a connection may take, in ms. @defaultValue process.env.SEEDCORE_CONNECT_TIMEOUT_MS ?? 10000 */
  connectTimeoutMs?: number | undefined;
  /**
   * TCP keepalive on every connection (pool and listener): idle time in ms before the first
   * probe (0 turns keepalive off). The interval and count of further probes are the kernel's
   * (Linux: net.ipv4.tcp_keepalive_intvl / tcp_keepalive_probes).
   * @defaultValue process.env.SEEDCORE_KEEPALIVE_MS ?? 10000
   */
  keepAliveMs?: number | undefined;
}

export interface ResolvedConnectionSettings {
  listenUrl: string | undefined;
  preparedStatements: boolean;
  queryTimeoutMs: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  keepAliveMs: number;
}

export const CONNECTION_DEFAULTS = { queryTimeoutMs: 60_000, statementTimeoutMs: 0, connectTimeoutMs: 10_000, keepAliveMs: 10_000 } as const;

function envMs(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw invalidInput(`${name} must be a whole number of milliseconds, 0 or more (got '${raw}')`);
  return n;
}

function checkMs(name: string, value: number | undefined, env: string, fallback: number): number {
  if (value === undefined) return envMs(env, fallback);
  if (!Number.isInteger(value) || value < 0) throw invalidInput(`${name} must be a whole number of milliseconds, 0 or more (got ${value})`);
  return value;
}

function envSwitch(name: string): boolean {
  const raw = (process.env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'off' || raw === 'false' || raw === '0') return false;
  if (raw === 'on' || raw === 'true' || raw === '1') return true;
  throw invalidInput(`${name} must be 'on' or 'off' (got '${process.env[name]}')`);
}

/** Options over environment over defaults; bad values are usage errors naming the setting. */
export function resolveConnectionSettings(o: ConnectionSettings = {}): ResolvedConnectionSettings {
  const listenUrl = o.listenUrl ?? (process.env.SEEDCORE_LISTEN_URL || undefined);
  return {
    listenUrl,
    preparedStatements: o.preparedStatements ?? envSwitch('SEEDCORE_PREPARED_STATEMENTS'),
    queryTimeoutMs: checkMs('queryTimeoutMs', o.queryTimeoutMs, 'SEEDCORE_QUERY_TIMEOUT_MS', CONNECTION_DEFAULTS.queryTimeoutMs),
    statementTimeoutMs: checkMs('statementTimeoutMs', o.statementTimeoutMs, 'SEEDCORE_STATEMENT_TIMEOUT_MS', CONNECTION_DEFAULTS.statementTimeoutMs),
    connectTimeoutMs: checkMs('connectTimeoutMs', o.connectTimeoutMs, 'SEEDCORE_CONNECT_TIMEOUT_MS', CONNECTION_DEFAULTS.connectTimeoutMs),
    keepAliveMs: checkMs('keepAliveMs', o.keepAliveMs, 'SEEDCORE_KEEPALIVE_MS', CONNECTION_DEFAULTS.keepAliveMs),
  };
}

/** Statements that may legitimately run for minutes: no client-side reply timeout. */
const MAINTENANCE = /^\s*(CREATE\s+(UNIQUE\s+)?INDEX|REINDEX|VACUUM|ANALYZE|CLUSTER|REFRESH\s+MATERIALIZED)/i;

export function isMaintenanceStatement(sql: string): boolean {
  return MAINTENANCE.test(sql);
}
