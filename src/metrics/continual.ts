/**
 * Continual-learning metrics over an accuracy matrix (SPEC section 6):
 * `matrix[t][i]` is the accuracy on task i's test set after update t.
 *
 * Rows may be ragged: row t holds tasks 0..t at least (the tasks seen so far)
 * and may hold later tasks too (evaluated before they were trained on, which
 * forward transfer needs). Where a formula takes a max over earlier rows, the
 * rows that lack task i are skipped; for a full matrix this is the formula
 * exactly.
 *
 * Bad input (no rows, a row shorter than t + 1, a value outside [0, 1], test
 * sizes or initial accuracies of the wrong length) throws a RangeError that
 * names the row, task or option at fault.
 */

/** `matrix[t][i]` = accuracy on task i after update t. */
export type AccuracyMatrix = readonly (readonly number[])[];

/** mean_{i<=t} a[t][i]: the accuracy over the tasks seen so far, each task counting once. */
export function averageAccuracy(matrix: AccuracyMatrix, t: number): number {
  checkMatrix(matrix);
  checkUpdate(matrix, t);
  return averageAt(matrix, t);
}

/** sum_{i<=t} n_i a[t][i] / sum_{i<=t} n_i: the accuracy over all test samples seen so far. */
export function microAverageAccuracy(matrix: AccuracyMatrix, t: number, testSizes: readonly number[]): number {
  checkMatrix(matrix);
  checkUpdate(matrix, t);
  checkTestSizes(testSizes, numTasks(matrix));
  return microAverageAt(matrix, t, testSizes);
}

/** mean_{i<t} (max_{k<t} a[k][i] - a[t][i]); 0 at t = 0. Positive means lost accuracy. */
export function forgetting(matrix: AccuracyMatrix, t: number): number {
  checkMatrix(matrix);
  checkUpdate(matrix, t);
  return forgettingAt(matrix, t);
}

/** mean_{i<t} (a[t][i] - a[i][i]); 0 at t = 0. Negative means later updates hurt earlier tasks. */
export function backwardTransfer(matrix: AccuracyMatrix, t: number): number {
  checkMatrix(matrix);
  checkUpdate(matrix, t);
  return backwardTransferAt(matrix, t);
}

/**
 * mean_{i=1..t} (a[i-1][i] - init[i]); 0 at t = 0. `init[i]` is the accuracy
 * on task i before any update. Needs row i-1 to hold task i.
 */
export function forwardTransfer(matrix: AccuracyMatrix, t: number, init: readonly number[]): number {
  checkMatrix(matrix);
  checkUpdate(matrix, t);
  checkInit(init, numTasks(matrix));
  checkForwardEntries(matrix, t);
  return forwardTransferAt(matrix, t, init);
}

/** Each metric as a series over updates t = 0..T-1. */
export interface AccuracySummary {
  averageAccuracy: number[];
  microAverageAccuracy: number[];
  forgetting: number[];
  backwardTransfer: number[];
  /** Present only when `init` was given. */
  forwardTransfer?: number[];
}

/** Options of {@link summarizeAccuracyMatrix}. */
export interface SummarizeOptions {
  /** Number of test samples of each task (one per task, positive integers). */
  testSizes: readonly number[];
  /** Accuracy on each task before any update; enables forward transfer. */
  init?: readonly number[];
}

/** Computes every metric of SPEC section 6 for each update t of the matrix. */
export function summarizeAccuracyMatrix(matrix: AccuracyMatrix, options: SummarizeOptions): AccuracySummary {
  checkMatrix(matrix);
  const tasks = numTasks(matrix);
  checkTestSizes(options.testSizes, tasks);
  const updates = matrix.map((_, t) => t);
  const summary: AccuracySummary = {
    averageAccuracy: updates.map((t) => averageAt(matrix, t)),
    microAverageAccuracy: updates.map((t) => microAverageAt(matrix, t, options.testSizes)),
    forgetting: updates.map((t) => forgettingAt(matrix, t)),
    backwardTransfer: updates.map((t) => backwardTransferAt(matrix, t)),
  };
  if (options.init !== undefined) {
    const init = options.init;
    checkInit(init, tasks);
    checkForwardEntries(matrix, matrix.length - 1);
    summary.forwardTransfer = updates.map((t) => forwardTransferAt(matrix, t, init));
  }
  return summary;
}

// The *At functions assume checked input; entries they read exist by the
// matrix invariant (row t has at least t + 1 entries).

function averageAt(matrix: AccuracyMatrix, t: number): number {
  const row = matrix[t]!;
  let sum = 0;
  for (let i = 0; i <= t; i++) sum += row[i]!;
  return sum / (t + 1);
}

function microAverageAt(matrix: AccuracyMatrix, t: number, testSizes: readonly number[]): number {
  const row = matrix[t]!;
  let weighted = 0;
  let total = 0;
  for (let i = 0; i <= t; i++) {
    weighted += testSizes[i]! * row[i]!;
    total += testSizes[i]!;
  }
  return weighted / total;
}

function forgettingAt(matrix: AccuracyMatrix, t: number): number {
  if (t === 0) return 0;
  let sum = 0;
  for (let i = 0; i < t; i++) {
    let best = -Infinity;
    for (let k = 0; k < t; k++) {
      const value = matrix[k]![i];
      if (value !== undefined && value > best) best = value;
    }
    sum += best - matrix[t]![i]!;
  }
  return sum / t;
}

function backwardTransferAt(matrix: AccuracyMatrix, t: number): number {
  if (t === 0) return 0;
  let sum = 0;
  for (let i = 0; i < t; i++) sum += matrix[t]![i]! - matrix[i]![i]!;
  return sum / t;
}

function forwardTransferAt(matrix: AccuracyMatrix, t: number, init: readonly number[]): number {
  if (t === 0) return 0;
  let sum = 0;
  for (let i = 1; i <= t; i++) sum += matrix[i - 1]![i]! - init[i]!;
  return sum / t;
}

function numTasks(matrix: AccuracyMatrix): number {
  return Math.max(...matrix.map((row) => row.length));
}

function checkMatrix(matrix: AccuracyMatrix): void {
  if (!Array.isArray(matrix)) throw new RangeError("the accuracy matrix is not an array of rows");
  if (matrix.length === 0) {
    throw new RangeError("the accuracy matrix is empty: it needs one row per update");
  }
  // Plain loops, not forEach: forEach skips the holes of a sparse array.
  for (let t = 0; t < matrix.length; t++) {
    const row: unknown = matrix[t];
    if (!Array.isArray(row)) throw new RangeError(`accuracy matrix row ${t} is not an array`);
    if (row.length < t + 1) {
      throw new RangeError(
        `accuracy matrix row ${t} has ${row.length} entries; it needs at least ${t + 1} (tasks 0..${t} seen after update ${t + 1})`,
      );
    }
    for (let i = 0; i < row.length; i++) checkAccuracy(row[i], `accuracy matrix entry [${t}][${i}]`);
  }
}

function checkUpdate(matrix: AccuracyMatrix, t: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= matrix.length) {
    throw new RangeError(`update index t = ${t} is not an integer in [0, ${matrix.length - 1}]`);
  }
}

function checkTestSizes(testSizes: readonly number[], tasks: number): void {
  if (testSizes.length !== tasks) {
    throw new RangeError(`testSizes has ${testSizes.length} entries but the accuracy matrix has ${tasks} tasks`);
  }
  for (let i = 0; i < testSizes.length; i++) {
    const size = testSizes[i];
    if (!Number.isInteger(size) || size! < 1) {
      throw new RangeError(`testSizes[${i}] = ${size} is not a positive integer`);
    }
  }
}

function checkInit(init: readonly number[], tasks: number): void {
  if (init.length !== tasks) {
    throw new RangeError(`init has ${init.length} entries but the accuracy matrix has ${tasks} tasks`);
  }
  for (let i = 0; i < init.length; i++) checkAccuracy(init[i], `init[${i}]`);
}

function checkForwardEntries(matrix: AccuracyMatrix, t: number): void {
  for (let i = 1; i <= t; i++) {
    if (matrix[i - 1]!.length <= i) {
      throw new RangeError(
        `forward transfer needs the accuracy on task ${i} after update ${i} (before training on it), ` +
          `but accuracy matrix row ${i - 1} has only ${matrix[i - 1]!.length} entries`,
      );
    }
  }
}

function checkAccuracy(value: unknown, what: string): void {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new RangeError(`${what} = ${String(value)} is not an accuracy in [0, 1]`);
  }
}
