/**
 * A benchmark grid as plain JSON: the data set by name or path (never its bytes), the scenario and the training
 * settings, and the grid's axes. `relearn benchmark` builds one from its flags; the local run and a queue worker
 * both turn it into a BenchmarkConfig with {@link benchmarkConfig}, so a cell means the same thing in both places.
 */
import * as z from "zod";
import { modelSpecSchema } from "../model/spec.js";
import { optimizerSpecSchema } from "../training/optimizers.js";
import type { Dataset } from "../data/dataset.js";
import { makeScenario } from "../data/scenarios/registry.js";
import type { BenchmarkConfig } from "./run_benchmark.js";

const positiveInt = z.number().int().positive();

/** Where the data comes from: the arguments of `loadNamedData`. Paths must be absolute to mean the same on a worker. */
export const benchmarkDataSchema = z.strictObject({
  /** "fashion-mnist", "fashion-mnist-bundled", "auto", "letter", a folder of IDX files or a train .csv. */
  dataset: z.string().min(1),
  testDataset: z.string().min(1).optional(),
  layout: z.enum(["flat", "hwc"]),
  header: z.union([z.boolean(), z.literal("auto")]).optional(),
});

/** Everything every cell of a grid shares. */
export const benchmarkSettingsSchema = z.strictObject({
  data: benchmarkDataSchema,
  scenario: z.string().min(1),
  /** Number of updates. */
  tasks: positiveInt,
  trainPerTask: positiveInt.optional(),
  testPerTask: positiveInt.optional(),
  model: modelSpecSchema,
  epochs: positiveInt,
  batchSize: positiveInt,
  optimizer: optimizerSpecSchema,
  backend: z.enum(["auto", "tensorflow", "wasm", "cpu", "webgl", "webgpu"]),
});

export type BenchmarkData = z.infer<typeof benchmarkDataSchema>;
export type BenchmarkSettings = z.input<typeof benchmarkSettingsSchema>;

/** A whole grid: the shared settings and its axes (updater x memory size x seed), with per-updater options. */
export interface BenchmarkSpec extends BenchmarkSettings {
  updaters: readonly string[];
  memorySizes: readonly number[];
  seeds: readonly number[];
  /** Options per updater name, merged last into each updater's options (see BenchmarkConfig.updaterOptions). */
  updaterOptions: Readonly<Record<string, Record<string, unknown>>>;
}

/** The loaded data a spec's `data` names (see loadNamedData). */
export interface LoadedBenchmarkData {
  name: string;
  train: Dataset;
  test: Dataset;
  classNames?: readonly string[] | undefined;
}

/** The BenchmarkConfig a spec stands for, on data loaded from `spec.data`. */
export function benchmarkConfig(spec: BenchmarkSpec, data: LoadedBenchmarkData): BenchmarkConfig {
  return {
    dataset: data.name,
    ...(data.classNames === undefined ? {} : { classNames: data.classNames }),
    scenario: spec.scenario,
    makeUpdates: (seed) =>
      makeScenario(spec.scenario, {
        train: data.train,
        test: data.test,
        tasks: spec.tasks,
        seed,
        ...(spec.trainPerTask === undefined ? {} : { trainPerTask: spec.trainPerTask }),
        ...(spec.testPerTask === undefined ? {} : { testPerTask: spec.testPerTask }),
      }),
    updaters: spec.updaters,
    memorySizes: spec.memorySizes,
    seeds: spec.seeds,
    model: spec.model as BenchmarkConfig["model"],
    epochs: spec.epochs,
    batchSize: spec.batchSize,
    optimizer: spec.optimizer,
    backend: spec.backend,
    updaterOptions: spec.updaterOptions,
  };
}
