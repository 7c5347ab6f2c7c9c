/**
 * Checks shared by the tests of the memory-based baselines (ER, offline ER,
 * GDumb, DER++): the 3-task blobs problem, forgetting against fine-tuning,
 * the state round trip and tensor leaks across updates.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { splitBlobs } from "../helpers/continual_data.js";
import type { Dataset } from "../../src/data/dataset.js";
import type { ReplayBuffer } from "../../src/memory/replay_buffer.js";
import { buildModel, type ContinualModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { accuracy } from "../../src/metrics/accuracy.js";
import type { ClassMeans } from "../../src/model/nearest_class_mean.js";
import { evaluateDataset } from "../../src/training/evaluate.js";
import { predict } from "../../src/training/predict.js";
import { FineTuningModelUpdater } from "../../src/updaters/fine_tuning.js";
import type { ModelUpdater } from "../../src/updaters/model_updater.js";
import type { ModelUpdaterOptions } from "../../src/updaters/options.js";

export const DIMS = 10;
export const data = splitBlobs({ tasks: 3, samplesPerClass: 60, dims: DIMS });
export const spec = mlp({ inputShape: [DIMS], hidden: [32], classes: 6 });
export const base = { batchSize: 32, maxEpochs: 3, seed: 3, backend: "wasm" as const, optimizer: { name: "adam" as const, learningRate: 5e-3 } };
/** The setting in which baselines.test.ts shows fine-tuning forgetting. */
export const forgettingSetting = { ...base, maxEpochs: 15, optimizer: { name: "adam" as const, learningRate: 1e-2 } };

/** An updater that keeps a replay memory. */
export type MemoryUpdater = ModelUpdater & { memory: ReplayBuffer };
export type MakeUpdater = (options: ModelUpdaterOptions) => MemoryUpdater;

export async function weightsOf(model: ContinualModel): Promise<Float32Array[]> {
  const snapshot = model.snapshotWeights();
  const values = await Promise.all(snapshot.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(snapshot);
  return values;
}

/** Mean accuracy over the test sets of `tasks`; by nearest class mean when `classMeans` is given (iCaRL). */
export async function accuracyOn(model: ContinualModel, tasks: readonly number[], classMeans?: ClassMeans): Promise<number> {
  let sum = 0;
  for (const t of tasks) {
    const test = data.test[t]!;
    sum += classMeans ? accuracy((await predict(model, test, { classMeans })).classes, test.labels) : (await evaluateDataset(model, test)).accuracy;
  }
  return sum / tasks.length;
}

/** Does every stored row equal some row of `datasets` (same features and label)? */
export function storedRowsComeFrom(memory: ReplayBuffer, datasets: readonly Dataset[]): boolean {
  const key = (features: Float32Array, label: number) => `${label}:${Array.from(features).join(",")}`;
  const known = new Set<string>();
  for (const ds of datasets) {
    for (let i = 0; i < ds.length; i++) known.add(key(ds.features.subarray(i * DIMS, (i + 1) * DIMS), ds.labels[i]!));
  }
  const stored = memory.asDataset();
  for (let i = 0; i < stored.length; i++) {
    if (!known.has(key(stored.features.subarray(i * DIMS, (i + 1) * DIMS), stored.labels[i]!))) return false;
  }
  return true;
}

/**
 * Runs the updater and fine-tuning over the 3 tasks in the forgetting
 * setting; asserts the updater keeps the old tasks clearly better, still
 * learns the new one, and that tf.memory().numTensors is constant from
 * update 2 on. Returns the accuracies for extra checks.
 */
export async function checkBeatsFineTuning(
  make: (options: ModelUpdaterOptions) => ModelUpdater,
  options: { margin: number; minOld: number; minNew: number },
): Promise<{ old: number; fineTuningOld: number; latest: number }> {
  const model = buildModel(spec, { seed: 0 });
  const ftModel = buildModel(spec, { seed: 0 });
  const updater = make({ ...forgettingSetting, model });
  const ft = new FineTuningModelUpdater({ ...forgettingSetting, model: ftModel });
  const tensorCounts: number[] = [];
  for (let t = 0; t < 3; t++) {
    await updater.update(data.train[t]!);
    await ft.update(data.train[t]!);
    tensorCounts.push(tf.memory().numTensors);
  }
  assert.equal(tensorCounts[2], tensorCounts[1], `tensors leaked between updates 2 and 3: ${tensorCounts.join(", ")}`);
  // Each model as its updater predicts (iCaRL: nearest class mean).
  const old = await accuracyOn(model, [0, 1], updater.classMeans);
  const fineTuningOld = await accuracyOn(ftModel, [0, 1]);
  const latest = await accuracyOn(model, [2], updater.classMeans);
  assert.ok(old >= fineTuningOld + options.margin, `old-task accuracy ${old.toFixed(3)} must beat fine-tuning's ${fineTuningOld.toFixed(3)} by ${options.margin}`);
  assert.ok(old >= options.minOld, `old-task accuracy ${old.toFixed(3)} < ${options.minOld}`);
  assert.ok(latest >= options.minNew, `newest-task accuracy ${latest.toFixed(3)} < ${options.minNew}`);
  model.dispose();
  ftModel.dispose();
  return { old, fineTuningOld, latest };
}

/**
 * Save after update 1, resume in a fresh updater (fresh model object, same
 * seed), run update 2: weights and memory must equal an uninterrupted run's.
 */
export async function checkStateRoundTrip(make: MakeUpdater, tag: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `relearn-${tag}-`));
  try {
    const straight = make({ ...base, model: buildModel(spec, { seed: 0 }) });
    await straight.update(data.train[0]!, { valDataset: data.test[0]! });
    await straight.update(data.train[1]!, { valDataset: data.test[1]! });

    const first = make({ ...base, model: buildModel(spec, { seed: 0 }), outputStateFolder: join(dir, "v1") });
    await first.update(data.train[0]!, { valDataset: data.test[0]! });
    first.model.dispose();

    const resumed = make({ ...base, model: buildModel(spec, { seed: 0 }), inputStateFolder: join(dir, "v1") });
    await resumed.update(data.train[1]!, { valDataset: data.test[1]! });
    assert.equal(resumed.updatesDone, 2);
    assert.deepEqual(await weightsOf(resumed.model), await weightsOf(straight.model), "weights differ from the uninterrupted run");
    assert.deepEqual(resumed.memory.toSnapshot(), straight.memory.toSnapshot(), "memory differs from the uninterrupted run");
    straight.model.dispose();
    resumed.model.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
