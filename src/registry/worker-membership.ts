/**
 * Registry membership for a dispatcher: the worker claims tasks as its registry instance, and
 * a fenced instance stops claiming until it has re-registered, then resumes under the new id.
 * Structural type, so this module does not depend on the dispatcher's implementation.
 */
import type { Db } from '../db/types.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { startReconciler, type ReconcilerOptions } from './reconciler.js';

export interface ClaimingControl {
  pauseClaiming(): void;
  resumeClaiming(newOwnerId: string): void;
  /** Claims then require the instance to be alive, and the self-fence follows its heartbeat. */
  useMembership?(m: { readonly instanceId: string | null; readonly trustedUntil: number; readonly healthy: boolean }): void;
}

/**
 * Pause claiming on 'fenced', resume with the new instance id on re-registration (the claim
 * statement refuses a dead instance anyway, and a fenced worker has given its tasks up before
 * anyone could take them over: src/tasks/timing.ts). Returns a function that detaches the
 * listeners.
 */
export function attachRegistry(dispatcher: ClaimingControl, client: RegistryClient): () => void {
  dispatcher.useMembership?.(client);
  const onFenced = () => dispatcher.pauseClaiming();
  const onRegistered = (e: { instanceId: string; previousInstanceId: string | null }) => {
    if (e.previousInstanceId !== null) dispatcher.resumeClaiming(e.instanceId);
  };
  client.on('fenced', onFenced);
  client.on('registered', onRegistered);
  return () => {
    client.off('fenced', onFenced);
    client.off('registered', onRegistered);
  };
}

export interface WorkerMembership {
  client: RegistryClient;
  /** The instance id to claim tasks as (changes after fencing; attachRegistry keeps the dispatcher in step). */
  instanceId: string;
  /** Stop the reconciler, then close the instance (draining → dead). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Register this worker and start the reconciler, before the dispatcher is built (its ownerId
 * is the returned instanceId). Then call attachRegistry(dispatcher, membership.client).
 */
export async function joinAsWorker(db: Db, options: Partial<RegistryClientOptions> & { reconciler?: ReconcilerOptions } = {}): Promise<WorkerMembership> {
  const { reconciler, ...clientOptions } = options;
  const client = new RegistryClient(db, { ...clientOptions, logicalId: clientOptions.logicalId ?? 'dispatcher' });
  const instanceId = await client.start();
  const stopReconciler = startReconciler(db, reconciler ?? {});
  let stopping: Promise<void> | null = null;
  return {
    client,
    instanceId,
    stop() {
      stopping ??= (async () => {
        await stopReconciler();
        await client.close();
      })();
      return stopping;
    },
  };
}
