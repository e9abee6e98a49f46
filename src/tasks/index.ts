export { TaskCoordinator, type ListTasksOptions, type SubmitOptions, type TaskPage, type TaskStats } from './coordinator.js';
export { Dispatcher, type DispatcherEvent, type DispatcherOptions } from './dispatcher.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { builtinHandlers } from './builtin.js';
export type { TaskRow } from './rows.js';
export type { SubmitTaskInput } from './validate.js';
export * from './types.js';
