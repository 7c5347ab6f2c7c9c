/**
 * Permuted scenario (permuted MNIST): every update sees all classes, through
 * its own fixed random permutation of the feature positions. As in Avalanche
 * and Mammoth, the first update is permuted too (no identity task).
 */
import { featureSize, type Dataset } from "../dataset.js";
import { classesPresent } from "../dataset_ops.js";
import {
  SHARED_TASK_ID,
  checkInteger,
  checkSeed,
  checkTrainTest,
  sampleRows,
  seededRandom,
  type ScenarioData,
  type ScenarioUpdate,
} from "./common.js";

/** Options of `permutedFeatures`. */
export interface PermutedOptions extends ScenarioData {
  tasks: number;
  seed: number;
  /** Train samples drawn (without replacement, seeded) for each update; default all. */
  trainPerTask?: number;
  /** Test samples drawn for each update; default all. */
  testPerTask?: number;
}

/**
 * Updates that share the label space (one head, taskId "default_task") and
 * differ by a permutation of the feature positions: sample value j of update
 * t is the original value at `permutations[t][j]`.
 */
export function permutedFeatures(options: PermutedOptions): ScenarioUpdate[] {
  const scenario = "permutedFeatures";
  checkTrainTest(scenario, options);
  const tasks = checkInteger(scenario, "tasks", options.tasks, 1);
  const seed = checkSeed(scenario, options.seed);
  const classes = classesPresent(options.train);
  return Array.from({ length: tasks }, (_, t) => {
    const permutation = featurePermutation(seed, t, featureSize(options.train.featureShape));
    const trainRows = sampleRows(scenario, "trainPerTask", options.train.length, options.trainPerTask,
      seededRandom(seed, "permuted-train-rows", t));
    const testRows = sampleRows(scenario, "testPerTask", options.test.length, options.testPerTask,
      seededRandom(seed, "permuted-test-rows", t));
    return {
      taskId: SHARED_TASK_ID,
      train: permutedRows(options.train, trainRows, permutation),
      test: permutedRows(options.test, testRows, permutation),
      classes: [...classes],
    };
  });
}

/** The permutation of update `t` of `permutedFeatures` with this seed and feature size (for inspection). */
export function featurePermutation(seed: number, t: number, size: number): Int32Array {
  return seededRandom(checkSeed("featurePermutation", seed), "permuted", t).permutation(size);
}

/**
 * The rows `rows` of `ds` with their features rearranged: new value j = old
 * value at `permutation[j]`. Gathers straight from the source into a fresh
 * array (one pass, no intermediate subset): on full Fashion-MNIST this loop
 * runs tens of millions of times per update.
 */
function permutedRows(ds: Dataset, rows: Int32Array, permutation: Int32Array): Dataset {
  const size = permutation.length;
  const source = ds.features;
  const features = new Float32Array(rows.length * size);
  const labels = new Int32Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k]!;
    const from = row * size;
    const to = k * size;
    for (let j = 0; j < size; j++) features[to + j] = source[from + permutation[j]!]!;
    labels[k] = ds.labels[row]!;
  }
  return { features, labels, featureShape: ds.featureShape, numClasses: ds.numClasses, length: rows.length };
}
