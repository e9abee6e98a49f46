// Runtime registry: membership with fencing, lookup, epochs and the reconciler.
export {
  RegistryClient,
  hostIp,
  type RegistryClientOptions,
  type RegistryClientEvents,
  type RegisteredEvent,
  type FencedEvent,
  type RegistryLogger,
} from './client.js';
export {
  currentEpoch,
  rotateEpoch,
  livenessSeconds,
  lookup,
  listActive,
  listInstances,
  expireInstances,
  type InstanceInfo,
  type InstanceStatus,
  type ExpireResult,
} from './queries.js';
export { reconcileOnce, startReconciler, RECONCILER_LOCK_KEY, type ReconcileResult, type ReconcilerOptions } from './reconciler.js';
export { attachRegistry, joinAsWorker, type ClaimingControl, type WorkerMembership } from './worker-membership.js';
export { createRegistryApi, listRegistry, RegistryListQuerySchema, type RegistryApi, type RegistryListOptions, type RegistryPage } from './api.js';
