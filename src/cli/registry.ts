import type { Command } from 'commander';
import { currentEpoch, expireInstances, listRegistry, lookup, rotateEpoch, type InstanceInfo } from '../registry/index.js';
import { notFound } from '../errors.js';
import { openDb, output, parseIntOption } from './context.js';

function table(rows: InstanceInfo[]): string {
  if (rows.length === 0) return 'no instances';
  const head = ['instance_id', 'logical_id', 'status', 'age_s', 'epoch', 'node', 'ip', 'pid'];
  const body = rows.map((r) => [
    r.instance_id,
    r.logical_id,
    r.status,
    r.heartbeat_age_seconds.toFixed(1),
    r.cluster_epoch.slice(0, 8),
    r.node_id ?? '',
    r.ip_address ?? '',
    String(r.pid ?? ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n');
}

export function registerRegistryCommands(program: Command): void {
  const registry = program.command('registry').description('the runtime registry: instances, lookup, epochs and expiry');

  registry
    .command('list')
    .description('live instances of the current epoch with heartbeat age (database clock); --all for every status and epoch')
    .option('--all', 'include starting, draining, dead and old-epoch instances')
    // A number is passed as a number and anything else as given, so the library's schema names it as HTTP does.
    .option('--limit <n>', 'at most this many (1..1000; default 200)', (v: string) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v))
    .action(async (opts: { all?: boolean; limit?: number }, cmd: Command) => {
      const db = await openDb(cmd, { poolSize: 2 });
      try {
        const page = await listRegistry(db, { all: opts.all === true, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) });
        // --json prints the library's page, the body of GET /api/registry/instances.
        output(cmd, page, () => table(page.items));
      } finally {
        await db.close();
      }
    });

  registry
    .command('lookup')
    .description('the instance serving a logical id now (active_instance); exit 4 if none')
    .argument('<logical-id>')
    .action(async (logicalId: string, _opts: unknown, cmd: Command) => {
      const db = await openDb(cmd, { poolSize: 2 });
      try {
        const inst = await lookup(db, logicalId);
        if (!inst) throw notFound(`no live instance serves '${logicalId}'`, { logicalId });
        output(cmd, inst, () => table([inst]));
      } finally {
        await db.close();
      }
    });

  const epoch = registry.command('epoch').description('cluster epochs');
  epoch
    .command('show')
    .description('print the current cluster epoch (creating the first one if needed)')
    .action(async (_opts: unknown, cmd: Command) => {
      const db = await openDb(cmd, { poolSize: 2 });
      try {
        const e = await currentEpoch(db);
        output(cmd, { epoch: e }, () => e);
      } finally {
        await db.close();
      }
    });
  epoch
    .command('rotate')
    .description('start a new cluster epoch: every current instance is fenced and must re-register')
    .action(async (_opts: unknown, cmd: Command) => {
      const db = await openDb(cmd, { poolSize: 2 });
      try {
        const e = await rotateEpoch(db);
        output(cmd, { epoch: e }, () => `new epoch ${e}`);
      } finally {
        await db.close();
      }
    });

  registry
    .command('expire')
    .description('mark dead now: instances silent for longer than the liveness window, and those of old epochs')
    .option('--timeout <seconds>', 'stale threshold (default: cluster_metadata.liveness_seconds)', parseIntOption('--timeout', 0))
    .action(async (opts: { timeout?: number }, cmd: Command) => {
      const db = await openDb(cmd, { poolSize: 2 });
      try {
        const r = await expireInstances(db, opts.timeout);
        output(cmd, r, () => `expired ${r.stale} stale and ${r.oldEpoch} old-epoch instances`);
      } finally {
        await db.close();
      }
    });
}
