/**
 * What every scenario returns, and the option checks they share. A scenario
 * is eager: it returns all its updates at once as plain Datasets, so a
 * benchmark can keep every test set for the accuracy matrix. Scenarios that
 * transform the data (permuted, rotated) hold one transformed copy per
 * update: subsample them (trainPerTask/testPerTask) on large data.
 */
import { DataError, OptionsError } from "../../errors.js";
import { Random, deriveSeed } from "../../random.js";
import type { Dataset } from "../dataset.js";

/**
 * The task id of single-head scenarios, where the task is not known at test
 * time. Same value as DEFAULT_TASK_ID of model/continual_model.ts (data/ does
 * not import model/, which depends on tfjs).
 */
export const SHARED_TASK_ID = "default_task";

/** One step of a scenario: the data of one model update and the test set that goes with it. */
export interface ScenarioUpdate {
  /** "default_task" when one head serves all updates; `task-<i>` for a head per task. */
  taskId: string;
  train: Dataset;
  test: Dataset;
  /** The classes this update is about (its own classes in class/task-incremental scenarios). */
  classes?: number[];
}

/** The train and test data every scenario starts from. */
export interface ScenarioData {
  train: Dataset;
  test: Dataset;
}

/** Checks that train and test live in the same feature and label space. */
export function checkTrainTest(scenario: string, { train, test }: ScenarioData): void {
  const same = train.featureShape.length === test.featureShape.length &&
    train.featureShape.every((dim, d) => dim === test.featureShape[d]);
  if (!same) {
    throw new DataError(
      `${scenario}: train featureShape [${train.featureShape.join(", ")}] differs from ` +
        `test featureShape [${test.featureShape.join(", ")}]`,
    );
  }
  if (train.numClasses !== test.numClasses) {
    throw new DataError(
      `${scenario}: train has numClasses ${train.numClasses} but test has ${test.numClasses}`,
    );
  }
  if (train.length === 0) throw new DataError(`${scenario}: the train set is empty`);
}

/** Throws an OptionsError unless `value` is an integer >= `min`. */
export function checkInteger(scenario: string, name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new OptionsError(`${scenario}: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Checks a scenario's seed: a non-integer is an OptionsError naming the scenario. */
export function checkSeed(scenario: string, seed: unknown): number {
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw new OptionsError(`${scenario}: seed must be an integer, got ${String(seed)}`);
  }
  return seed;
}

/** A generator of its own for each use of the seed (class order, task t's permutation, ...). */
export function seededRandom(seed: number, ...path: (string | number)[]): Random {
  return Random.fromSeed(deriveSeed(seed, ...path));
}

/**
 * `count` distinct row indices of a dataset of `length` rows, drawn with
 * `random` and returned in increasing order (so a subsample keeps the
 * original order). Returns all rows when `count` is undefined.
 */
export function sampleRows(
  scenario: string,
  option: string,
  length: number,
  count: number | undefined,
  random: Random,
): Int32Array {
  if (count === undefined) return Int32Array.from({ length }, (_, i) => i);
  checkInteger(scenario, option, count, 1);
  if (count > length) {
    throw new OptionsError(`${scenario}: ${option} = ${count} exceeds the ${length} samples available`);
  }
  return random.permutation(length).subarray(0, count).sort();
}
