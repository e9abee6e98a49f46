/** The registry API bound to one database, as exposed on the SeedCore object. */
import { Type, type Static } from '@sinclair/typebox';
import type { Db, Queryable } from '../db/types.js';
import { assertSchema } from '../schema-check.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { currentEpoch, expireInstances, listActive, listInstances, lookup, rotateEpoch, type ExpireResult, type InstanceInfo } from './queries.js';
import { startReconciler, type ReconcilerOptions } from './reconciler.js';

/** What a registry listing takes: registry.list(options), GET /api/registry/instances's query and `seedcore registry list`. */
export const RegistryListQuerySchema = Type.Object(
  {
    all: Type.Optional(Type.Boolean({ default: false, description: 'Include every recorded instance (dead, draining, old epochs), newest first.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200, description: 'At most this many instances.' })),
  },
  { additionalProperties: false, description: 'A registry listing.' },
);

export type RegistryListOptions = Static<typeof RegistryListQuerySchema>;

/** Instances as one page: the `{ items, nextCursor }` shape of every list (not paged, so nextCursor is null). */
export interface RegistryPage {
  items: InstanceInfo[];
  nextCursor: null;
}

/**
 * Live instances of the current epoch (active_instances) by logical id, or with `all` every
 * recorded instance newest first; at most `limit` (default 200). The body of
 * GET /api/registry/instances and `seedcore registry list --json`. Liveness is the database's
 * verdict (database clock).
 */
export async function listRegistry(db: Queryable, options: RegistryListOptions = {}): Promise<RegistryPage> {
  assertSchema(RegistryListQuerySchema, Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  const limit = options.limit ?? 200;
  const items = options.all ? await listInstances(db, { limit }) : (await listActive(db)).slice(0, limit);
  return { items, nextCursor: null };
}

export interface RegistryApi {
  /** A new RegistryClient on this database (call start()); closed by SeedCore.close() if still open. */
  client(options: RegistryClientOptions): RegistryClient;
  lookup(logicalId: string): Promise<InstanceInfo | null>;
  /** Live instances, or with `all` every recorded one: `{ items, nextCursor: null }`, the body of GET /api/registry/instances. */
  list(options?: RegistryListOptions): Promise<RegistryPage>;
  currentEpoch(): Promise<string>;
  rotateEpoch(): Promise<string>;
  expire(timeoutSeconds?: number): Promise<ExpireResult>;
  /** Start the periodic reconciler; the returned function stops it (SeedCore.close() also does). */
  startReconciler(options?: ReconcilerOptions): () => Promise<void>;
  /** Stop reconcilers and close clients started through this API. */
  shutdown(): Promise<void>;
}

export function createRegistryApi(db: Db): RegistryApi {
  const clients = new Set<RegistryClient>();
  const reconcilers = new Set<() => Promise<void>>();
  return {
    client(options) {
      const c = new RegistryClient(db, options);
      clients.add(c);
      c.once('closed', () => clients.delete(c));
      return c;
    },
    lookup: (logicalId) => lookup(db, logicalId),
    list: (options) => listRegistry(db, options),
    currentEpoch: () => currentEpoch(db),
    rotateEpoch: () => rotateEpoch(db),
    expire: (timeoutSeconds) => expireInstances(db, timeoutSeconds),
    startReconciler(options) {
      const stop = startReconciler(db, options);
      const tracked = async () => {
        reconcilers.delete(tracked);
        await stop();
      };
      reconcilers.add(tracked);
      return tracked;
    },
    async shutdown() {
      await Promise.all([...reconcilers].map((s) => s()));
      await Promise.all([...clients].map((c) => c.close()));
    },
  };
}
