/**
 * The signal a durable handler uses to give its worker slot back. `ctx.sleepFor`,
 * `ctx.sleepUntil`, `ctx.awaitEvent` and `ctx.awaitTasks` first suspend the task in the
 * database (a compare-and-set on the owner: the row goes back to `queued` with what it waits
 * for, the attempt is given back), then throw this. The dispatcher recognises it, frees the
 * slot and writes no outcome: the database already holds the task's next state.
 */
export class TaskSuspended extends Error {
  readonly taskId: string;
  /** What the task now waits for, e.g. `sleep`, `event:order-paid`, `tasks:3`. */
  readonly waitingFor: string;

  constructor(taskId: string, waitingFor: string) {
    super(`task ${taskId} suspended (waiting for ${waitingFor})`);
    this.name = 'TaskSuspended';
    this.taskId = taskId;
    this.waitingFor = waitingFor;
  }
}

export function isTaskSuspended(e: unknown): e is TaskSuspended {
  return e instanceof TaskSuspended;
}
