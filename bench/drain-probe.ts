/**
 * What a drain costs the database, per task: server CPU (the server's `postgres` processes, read
 * from /proc — only when the server runs on this machine), WAL bytes and full-page images, and, when the server preloads
 * pg_stat_statements, the statements that took the time. Throughput alone cannot say why one
 * queue is faster than another on a shared 2-core machine; these figures can. A backend that
 * exits before stop() takes its CPU time with it: keep the measured connections open until then.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

export interface DrainCost {
  /** CPU time of every postgres process during the drain, µs per task (null: server not local). */
  dbCpuUsPerTask: number | null;
  walBytesPerTask: number;
  /** Full-page images per task (pg_stat_wal: the whole server, so a scratch server is exact). */
  walFpiPerTask: number | null;
  /** WAL records per task (pg_stat_wal). */
  walRecordsPerTask: number | null;
  /** This process's CPU time during the drain, µs per task. */
  nodeCpuUsPerTask: number;
  /**
   * Top statements by execution time (only with pg_stat_statements preloaded; with
   * pg_stat_statements.track = all, statements run by triggers and functions are listed too,
   * marked nested, and their time is also in the statement that fired them).
   */
  statements?: { query: string; calls: number; rows: number; execUsPerTask: number; walBytesPerTask: number; walFpiPerTask: number }[];
}

const CLOCK_TICK_US = 10_000; // USER_HZ = 100 on Linux

/**
 * Sum of utime + stime of the server's processes (the postmaster `root` and its children), in
 * µs; null without /proc. Only that server: other clusters on the machine are not counted.
 */
function postgresCpuUs(root: number): number | null {
  let ticks = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (stat.slice(open + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      if (Number(pid) !== root && Number(fields[1]) !== root) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended while we looked
    }
  }
  return ticks * CLOCK_TICK_US;
}

function isLocal(url: string): boolean {
  const host = new URL(url).hostname;
  return host === '' || host === 'localhost' || host === '127.0.0.1' || host === '::1' || host === '[::1]';
}

/** How many statements the cost reports (BENCH_STATEMENTS). */
const STATEMENTS = Number(process.env.BENCH_STATEMENTS ?? 5);

/** The postmaster of a backend (its parent), or null without /proc. */
function postmasterPid(backend: number | undefined): number | null {
  if (backend === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${backend}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Start measuring; `stop(tasks)` returns the cost of what ran in between. */
export async function startDrainProbe(url: string): Promise<{ stop(tasks: number): Promise<DrainCost> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let statements = false;
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await client.query('SELECT pg_stat_statements_reset()');
    statements = true;
  } catch {
    // not preloaded (shared_preload_libraries): CPU and WAL only
  }
  const walStats = async (): Promise<{ fpi: number; records: number } | null> => {
    try {
      const r = await client.query<{ fpi: string; records: string }>('SELECT wal_fpi AS fpi, wal_records AS records FROM pg_stat_wal');
      return { fpi: Number(r.rows[0]?.fpi), records: Number(r.rows[0]?.records) };
    } catch {
      return null; // before PostgreSQL 14
    }
  };
  const lsn0 = (await client.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]?.l;
  const wal0 = await walStats();
  const local = isLocal(url);
  const root = local ? postmasterPid((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid) : null;
  const cpu0 = root !== null ? postgresCpuUs(root) : null;
  const node0 = process.cpuUsage();
  return {
    async stop(tasks: number): Promise<DrainCost> {
      try {
        const node = process.cpuUsage(node0);
        const cpu1 = root !== null ? postgresCpuUs(root) : null;
        const wal = await client.query<{ d: number }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 AS d', [lsn0]);
        const wal1 = await walStats();
        const cost: DrainCost = {
          dbCpuUsPerTask: cpu0 !== null && cpu1 !== null ? round1((cpu1 - cpu0) / tasks) : null,
          walBytesPerTask: Math.round((wal.rows[0]?.d ?? 0) / tasks),
          walFpiPerTask: wal0 && wal1 ? Math.round(((wal1.fpi - wal0.fpi) / tasks) * 1000) / 1000 : null,
          walRecordsPerTask: wal0 && wal1 ? round1((wal1.records - wal0.records) / tasks) : null,
          nodeCpuUsPerTask: round1((node.user + node.system) / tasks),
        };
        if (statements) {
          const r = await client.query<{ query: string; calls: string; rows: string; ms: number; wal: string; fpi: string }>(
            `SELECT CASE WHEN toplevel THEN '' ELSE '(nested) ' END || regexp_replace(query, '\\s+', ' ', 'g') AS query, calls, rows, total_exec_time AS ms, wal_bytes AS wal, wal_fpi AS fpi
               FROM pg_stat_statements
              WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              ORDER BY total_exec_time DESC LIMIT ${STATEMENTS}`,
          );
          cost.statements = r.rows.map((s) => ({
            query: s.query.slice(0, 160),
            calls: Number(s.calls),
            rows: Number(s.rows),
            execUsPerTask: round1((s.ms * 1000) / tasks),
            walBytesPerTask: Math.round(Number(s.wal) / tasks),
            walFpiPerTask: Math.round((Number(s.fpi) / tasks) * 1000) / 1000,
          }));
        }
        return cost;
      } finally {
        await client.end();
      }
    },
  };
}
