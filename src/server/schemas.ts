/** Schemas shared by several route modules. */
import { Type } from '@sinclair/typebox';
import { TASK_STATUSES } from '../tasks/types.js';

export const TaskStatusSchema = Type.Union(
  TASK_STATUSES.map((s) => Type.Literal(s)),
  { description: 'Task status.' },
);
