/** The registry API bound to one database, as exposed on the SeedCore object. */
import type { Db } from '../db/types.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { currentEpoch, expireInstances, listActive, listInstances, lookup, rotateEpoch, type ExpireResult, type InstanceInfo } from './queries.js';
import { startReconciler, type ReconcilerOptions } from './reconciler.js';

export interface RegistryApi {
  /** A new RegistryClient on this database (call start()); closed by SeedCore.close() if still open. */
  client(options: RegistryClientOptions): RegistryClient;
  lookup(logicalId: string): Promise<InstanceInfo | null>;
  listActive(): Promise<InstanceInfo[]>;
  listInstances(options?: { limit?: number }): Promise<InstanceInfo[]>;
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
    listActive: () => listActive(db),
    listInstances: (options) => listInstances(db, options),
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
