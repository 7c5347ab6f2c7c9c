/**
 * Task ids, shared by the model (one head per task id), the replay memory
 * (each item remembers its task) and the training loop (each batch row goes
 * through its own task's head). Plain data only, so memory/ and data/ can
 * use it without importing tfjs.
 */

/** The task id used when the caller names none (and the one head of a single-head model). */
export const DEFAULT_TASK_ID = "default_task";

/**
 * The task of each of a run of rows: row i belongs to task `taskIds[rows[i]]`.
 * `rows` holds one index per row (per dataset item, or per batch row); a
 * single-head model ignores it.
 */
export interface RowTasks {
  readonly taskIds: readonly string[];
  readonly rows: Int32Array;
}

/** The tasks of `indices` of `tasks.rows`, in that order (a copy). */
export function gatherRowTasks(tasks: RowTasks, indices: ArrayLike<number>): RowTasks {
  const rows = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) rows[i] = tasks.rows[indices[i]!]!;
  return { taskIds: tasks.taskIds, rows };
}

/** `taskIds` with `taskId` appended if absent, and its index there. */
export function withTaskId(taskIds: readonly string[], taskId: string): { taskIds: readonly string[]; index: number } {
  const index = taskIds.indexOf(taskId);
  return index >= 0 ? { taskIds, index } : { taskIds: [...taskIds, taskId], index: taskIds.length };
}
