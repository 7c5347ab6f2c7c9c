/**
 * Small hand-checkable benchmark results shared by the reporting tests:
 * "replay" (memory 100) over seeds 1 and 2, and "fine-tuning" (no memory)
 * over seed 7, with 2 tasks. Expected values are worked out in summary.test.ts.
 */
import type { BenchmarkResults } from "../../src/reporting/results.js";

/** A fresh copy each call, so a test that mutates it cannot affect another. */
export function fakeResults(): BenchmarkResults {
  return {
    dataset: "fake-mnist",
    scenario: "class-incremental",
    tasks: 2,
    model: { type: "mlp", hidden: [8] },
    backend: "cpu",
    epochs: 1,
    batchSize: 4,
    runs: [
      {
        updater: "replay",
        memorySize: 100,
        seed: 1,
        accuracyMatrix: [
          [0.8, 0.1],
          [0.6, 0.9],
        ],
        testSizes: [10, 40],
        initAccuracy: [0.1, 0.2],
        negativeFlipRates: [0.05],
        updateSeconds: [1, 2],
        phaseSeconds: { expert: [0.5, 1], consolidation: [0.5, 1] },
      },
      {
        updater: "replay",
        memorySize: 100,
        seed: 2,
        accuracyMatrix: [
          [0.9, 0.3],
          [0.7, 0.7],
        ],
        testSizes: [10, 40],
        initAccuracy: [0.1, 0.2],
        negativeFlipRates: [Number.NaN, 0.15],
        updateSeconds: [2, 4],
        phaseSeconds: { expert: [1, 2], consolidation: [1, 2] },
      },
      {
        updater: "fine-tuning",
        memorySize: null,
        seed: 7,
        accuracyMatrix: [
          [0.9, 0.1],
          [0.3, 0.95],
        ],
        testSizes: [10, 40],
        negativeFlipRates: [0.4],
        updateSeconds: [0.5, 0.25],
      },
    ],
  };
}
