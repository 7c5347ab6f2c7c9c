/**
 * A user-defined split by a per-row value (a timestamp, a site id, ...):
 * update i holds the rows whose value lies in [boundaries[i], boundaries[i+1]).
 */
import { DataError, OptionsError } from "../../errors.js";
import type { Dataset } from "../dataset.js";
import { classesPresent, subsetDataset } from "../dataset_ops.js";
import { SHARED_TASK_ID, checkTrainTest, type ScenarioData, type ScenarioUpdate } from "./common.js";

/** Options of `splitByColumn`. */
export interface ByColumnOptions extends ScenarioData {
  /** One value per train row. */
  column: Float64Array | Int32Array | readonly number[];
  /** One value per test row. */
  testColumn: Float64Array | Int32Array | readonly number[];
  /** Strictly increasing; may start at -Infinity and end at Infinity. n boundaries make n - 1 updates. */
  boundaries: readonly number[];
}

/**
 * Updates cut by value ranges, in increasing order, sharing one head
 * (taskId "default_task"). Rows outside [boundaries[0], last boundary) belong
 * to no update. Every update must have train and test rows.
 */
export function splitByColumn(options: ByColumnOptions): ScenarioUpdate[] {
  const scenario = "splitByColumn";
  checkTrainTest(scenario, options);
  const { boundaries } = options;
  if (!Array.isArray(boundaries) || boundaries.length < 2) {
    throw new OptionsError(`${scenario}: boundaries needs at least 2 values (1 update), got ${JSON.stringify(boundaries)}`);
  }
  boundaries.forEach((value, i) => {
    if (typeof value !== "number" || Number.isNaN(value)) {
      throw new OptionsError(`${scenario}: boundaries[${i}] = ${String(value)} is not a number`);
    }
    if (i > 0 && !(value > boundaries[i - 1]!)) {
      throw new OptionsError(
        `${scenario}: boundaries must be strictly increasing, but boundaries[${i}] = ${value} <= ` +
          `boundaries[${i - 1}] = ${boundaries[i - 1]}`,
      );
    }
  });
  const trainRows = rowsPerRange(scenario, "column", options.train, options.column, boundaries);
  const testRows = rowsPerRange(scenario, "testColumn", options.test, options.testColumn, boundaries);
  return trainRows.map((rows, i) => {
    const range = `[${boundaries[i]}, ${boundaries[i + 1]})`;
    if (rows.length === 0) throw new DataError(`${scenario}: update ${i + 1} ${range} has no train rows`);
    if (testRows[i]!.length === 0) throw new DataError(`${scenario}: update ${i + 1} ${range} has no test rows`);
    const train = subsetDataset(options.train, rows);
    return { taskId: SHARED_TASK_ID, train, test: subsetDataset(options.test, testRows[i]!), classes: classesPresent(train) };
  });
}

/** Row indices of each range, in row order. */
function rowsPerRange(
  scenario: string,
  option: string,
  ds: Dataset,
  column: ArrayLike<number>,
  boundaries: readonly number[],
): number[][] {
  if (column === null || typeof column !== "object" || column.length !== ds.length) {
    throw new DataError(
      `${scenario}: ${option} must hold one value per row (${ds.length}), got ${column?.length ?? String(column)}`,
    );
  }
  const rows = Array.from({ length: boundaries.length - 1 }, (): number[] => []);
  for (let row = 0; row < ds.length; row++) {
    const value = column[row]!;
    if (typeof value !== "number" || Number.isNaN(value)) {
      throw new DataError(`${scenario}: ${option}[${row}] = ${String(value)} is not a number`);
    }
    const range = rangeOf(value, boundaries);
    if (range >= 0) rows[range]!.push(row);
  }
  return rows;
}

/** Index i with boundaries[i] <= value < boundaries[i+1] (binary search), or -1 when outside. */
function rangeOf(value: number, boundaries: readonly number[]): number {
  if (value < boundaries[0]! || value >= boundaries[boundaries.length - 1]!) return -1;
  let low = 0;
  let high = boundaries.length - 1;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (value >= boundaries[middle]!) low = middle;
    else high = middle;
  }
  return low;
}
