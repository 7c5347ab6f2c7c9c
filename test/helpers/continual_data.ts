/**
 * Small class-incremental data for updater tests: Gaussian blobs split into
 * tasks of two classes each, with separate test samples around the same centres.
 */
import type { Dataset } from "../../src/data/dataset.js";
import { filterByClasses } from "../../src/data/dataset_ops.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";

export interface SplitTasks {
  train: Dataset[];
  test: Dataset[];
}

export function splitBlobs(options: { tasks: number; samplesPerClass: number; dims: number; seed?: number }): SplitTasks {
  const numClasses = options.tasks * 2;
  const seed = options.seed ?? 1;
  const common = { numClasses, dims: options.dims, seed, spread: 1, separation: 3 };
  const train = makeGaussianBlobs({ ...common, samplesPerClass: options.samplesPerClass, sampleSeed: 100 });
  const test = makeGaussianBlobs({ ...common, samplesPerClass: 50, sampleSeed: 200 });
  const classesOf = (t: number) => [2 * t, 2 * t + 1];
  return {
    train: Array.from({ length: options.tasks }, (_, t) => filterByClasses(train, classesOf(t))),
    test: Array.from({ length: options.tasks }, (_, t) => filterByClasses(test, classesOf(t))),
  };
}
