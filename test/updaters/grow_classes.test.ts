// Growing classes: update 3 brings a class the model has no output for. With growClasses the output layer grows
// (old class columns kept, stored logits widened), the state records the new count and resumes bit for bit; without
// it the update fails with an error that says what happened and how to allow it.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import type { Dataset } from "../../src/data/dataset.js";
import { concatDatasets, filterByClasses } from "../../src/data/dataset_ops.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { buildModel, type ContinualModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { createUpdater } from "../../src/updaters/registry.js";
import { MAX_EMPTY_NEW_CLASSES, type ModelUpdater } from "../../src/updaters/model_updater.js";
import type { MemoryModelUpdater } from "../../src/updaters/memory_updater.js";
import { evaluateDataset } from "../../src/training/evaluate.js";
import { DataError, ModelError, StateError } from "../../src/errors.js";
import { registryTestOptions } from "../helpers/updater_options.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 10;
const common = { numClasses: 4, dims: DIMS, seed: 5, spread: 1, separation: 3 };
const trainAll = makeGaussianBlobs({ ...common, samplesPerClass: 60, sampleSeed: 100 });
const testAll = makeGaussianBlobs({ ...common, samplesPerClass: 50, sampleSeed: 200 });
/** `classes` of `ds`, declaring `numClasses` classes (what a file with labels up to numClasses - 1 reads as). */
const part = (ds: Dataset, classes: number[], numClasses: number): Dataset => ({ ...filterByClasses(ds, classes), numClasses });
// Updates 1 and 2 know classes 0..2; update 3 adds class 3 (with some class-0 items, so its chunk is not one class).
const chunks = [part(trainAll, [0, 1], 3), part(trainAll, [2], 3), concatDatasets([part(trainAll, [3], 4), part(trainAll, [0], 4)])];
const test3 = part(testAll, [3], 4);
const testOld = part(testAll, [0, 1, 2], 4);
const spec = mlp({ inputShape: [DIMS], hidden: [32], classes: 3 });
const base = { batchSize: 32, maxEpochs: 2, seed: 3, backend: "wasm" as const, optimizer: { name: "adam" as const, learningRate: 1e-2 } };
const UPDATERS = ["rd", "der++", "er", "fine-tuning", "joint", "cls-er", "er-ace", "pod-er", "super-er"] as const;

function make(name: string, model: ContinualModel, extra: Record<string, unknown> = {}): ModelUpdater {
  return createUpdater(name, { ...base, memorySize: 60, model, growClasses: true, ...registryTestOptions(name, "dense_0_relu"), ...extra });
}

async function weightsOf(model: ContinualModel): Promise<Float32Array[]> {
  const snapshot = model.snapshotWeights();
  const values = await Promise.all(snapshot.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(snapshot);
  return values;
}

const memoryOf = (updater: ModelUpdater) => (updater as Partial<MemoryModelUpdater>).memory;

for (const name of UPDATERS) {
  test(`${name}: update 3 adds a class; the model grows, the state says 4 classes, and resuming is bit-identical`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "relearn-grow-"));
    try {
      const straightModel = buildModel(spec, { seed: 0 });
      const straight = make(name, straightModel);
      await straight.update(chunks[0]!);
      const tensors = tf.memory().numTensors;
      await straight.update(chunks[1]!);
      assert.equal(straight.lastClassGrowth, undefined);
      await straight.update(chunks[2]!);
      assert.deepEqual(straight.lastClassGrowth, { from: 3, to: 4 });
      assert.equal(tf.memory().numTensors, tensors, "no tensor leaks across a growing update");
      assert.equal(straightModel.numClasses, 4);

      const first = make(name, buildModel(spec, { seed: 0 }), { outputStateFolder: join(dir, "v2") });
      await first.update(chunks[0]!);
      await first.update(chunks[1]!);
      first.model.dispose();
      // Resumed as the workflow does: the model given is built from the config's spec, which still says 3 classes.
      const resumedModel = buildModel(spec, { seed: 0 });
      const resumed = make(name, resumedModel, { inputStateFolder: join(dir, "v2"), outputStateFolder: join(dir, "v3") });
      await resumed.update(chunks[2]!);
      assert.deepEqual(await weightsOf(resumedModel), await weightsOf(straightModel));
      const memory = memoryOf(resumed);
      if (memory !== undefined) {
        assert.deepEqual(Array.from(memory.asDataset().labels), Array.from(memoryOf(straight)!.asDataset().labels));
        if ("logits" in memory.metadataSchema) {
          assert.deepEqual(memory.metadataSchema["logits"]!.rowShape, [4]);
          assert.deepEqual(Array.from(memory.metadataColumn("logits")), Array.from(memoryOf(straight)!.metadataColumn("logits")));
        }
      }

      // The state and its model.json agree on the new count.
      const manifest = JSON.parse(await readFile(join(dir, "v3", "manifest.json"), "utf8")) as { data: { model: { numClasses: number; spec: { classes: number } } } };
      assert.equal(manifest.data.model.numClasses, 4);
      assert.equal(manifest.data.model.spec.classes, 4);
      const modelJson = JSON.parse(await readFile(join(dir, "v3", "model", "model.json"), "utf8")) as { userDefinedMetadata: { relearn: { spec: { classes: number } } } };
      assert.equal(modelJson.userDefinedMetadata.relearn.spec.classes, 4);

      // A grown state resumes without the option (the growth was allowed when it happened), from the old config too.
      const later = createUpdater(name, { ...base, memorySize: 60, model: buildModel(spec, { seed: 0 }), inputStateFolder: join(dir, "v3"), ...registryTestOptions(name, "dense_0_relu") });
      await later.prepare();
      assert.equal(later.model.numClasses, 4);
      assert.deepEqual(await weightsOf(later.model), await weightsOf(straightModel));
      for (const m of [straightModel, resumedModel, later.model]) m.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test("the new class is learned by every updater, and RD keeps the old classes that fine-tuning forgets", async () => {
  const options = { maxEpochs: 15 };
  const accuracies: Record<string, { old: number; added: number }> = {};
  for (const name of UPDATERS) {
    const model = buildModel(spec, { seed: 0 });
    // CLS-ER predicts with its stable average, ~1,000 steps by default: these updates are a few dozen steps.
    const shortWindows = name === "cls-er" ? { stableModelUpdateWeight: 0.6, plasticModelUpdateWeight: 0.5 } : {};
    const updater = make(name, model, { ...options, ...shortWindows, ...(name === "rd" ? { memorySize: 120 } : {}) });
    for (const chunk of chunks) await updater.update(chunk);
    accuracies[name] = { old: (await evaluateDataset(model, testOld)).accuracy, added: (await evaluateDataset(model, test3)).accuracy };
    model.dispose();
  }
  const text = JSON.stringify(accuracies);
  for (const name of UPDATERS) assert.ok(accuracies[name]!.added > 0.8, `${name} learns the new class 3: ${text}`);
  assert.ok(accuracies["rd"]!.old > 0.8, `RD keeps classes 0..2: ${text}`);
  assert.ok(accuracies["joint"]!.old > 0.8, `joint keeps classes 0..2: ${text}`);
  assert.ok(accuracies["rd"]!.old >= accuracies["fine-tuning"]!.old + 0.2, `RD beats fine-tuning on the old classes: ${text}`);
});

test("DER++: stored logit rows of items kept from before the growth get the row's lowest logit for the new class", async () => {
  const model = buildModel(spec, { seed: 0 });
  const updater = make("der++", model, { memorySize: 400 }) as MemoryModelUpdater;
  await updater.update(chunks[0]!);
  await updater.update(chunks[1]!);
  // Memory 400 >= every item ever seen (300): nothing is evicted, so rows 0..179 are the items from before the growth.
  const before = Float32Array.from(updater.memory.metadataColumn("logits"));
  const beforeX = Float32Array.from(updater.memory.asDataset().features);
  await updater.update(chunks[2]!);
  const after = updater.memory.metadataColumn("logits");
  assert.deepEqual(Array.from(updater.memory.asDataset().features.subarray(0, beforeX.length)), Array.from(beforeX));
  for (let row = 0; row < before.length / 3; row++) {
    const old = Array.from(before.subarray(row * 3, row * 3 + 3));
    assert.deepEqual(Array.from(after.subarray(row * 4, row * 4 + 4)), [...old, Math.min(...old)], `row ${row}`);
  }
  model.dispose();
});

test("without growClasses, a chunk with a new class is a DataError naming the class, the outputs and how to allow growth", async () => {
  for (const name of ["rd", "fine-tuning"]) {
    const model = buildModel(spec, { seed: 0 });
    const updater = make(name, model, { growClasses: false });
    await updater.update(chunks[0]!);
    const weights = await weightsOf(model);
    await assert.rejects(updater.update(chunks[2]!), (e: Error) => {
      assert.ok(e instanceof DataError, String(e));
      assert.equal(
        e.message,
        "training dataset has class 3 (first in data row 1), but the model has 3 outputs (classes 0..2): new classes appeared. To let the output layer grow to 4 " +
          'classes (old classes\' weights kept), set the updater option growClasses: true (config "options.growClasses", CLI --grow-classes); ' +
          "or, if the label is a mistake, fix the data",
      );
      return true;
    });
    // The validation data is checked the same way and named as given.
    await assert.rejects(updater.update(chunks[1]!, { valDataset: test3, dataNames: { val: "val3.csv" } }), /^DataError: val3\.csv has class 3 \(first in data row 1\), but the model has 3 outputs/);
    assert.equal(updater.updatesDone, 1);
    assert.equal(model.numClasses, 3);
    assert.deepEqual(await weightsOf(model), weights, "a refused update changes nothing");
    model.dispose();
  }
});

test("a state resumed with a model of more classes (a config's classes raised) grows with growClasses, else a StateError says how", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-grow-"));
  try {
    const first = make("rd", buildModel(spec, { seed: 0 }), { outputStateFolder: join(dir, "v1") });
    await first.update(chunks[0]!);
    const v1Logits = Float32Array.from((first as MemoryModelUpdater).memory.metadataColumn("logits"));
    first.model.dispose();
    const wider = mlp({ inputShape: [DIMS], hidden: [32], classes: 4 });

    const refused = make("rd", buildModel(wider, { seed: 0 }), { growClasses: false, inputStateFolder: join(dir, "v1") });
    await assert.rejects(refused.prepare(), (e: Error) =>
      e instanceof StateError && /model has 3 outputs but the model given to the updater has 4 .*growClasses: true .*--grow-classes/.test(e.message),
    );
    refused.model.dispose();

    const grown = make("rd", buildModel(wider, { seed: 0 }), { inputStateFolder: join(dir, "v1") }) as MemoryModelUpdater;
    await grown.prepare();
    assert.equal(grown.model.numClasses, 4);
    const logits = grown.memory.metadataColumn("logits");
    for (let row = 0; row < v1Logits.length / 3; row++) {
      const old = Array.from(v1Logits.subarray(row * 3, row * 3 + 3));
      assert.deepEqual(Array.from(logits.subarray(row * 4, row * 4 + 4)), [...old, Math.min(...old)]);
    }
    await grown.update(chunks[2]!);
    grown.model.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("frozen body: fine-tuning grows the head and keeps the body bit for bit; a frozen head is refused before training", async () => {
  const model = buildModel(spec, { seed: 0 });
  model.freezeWeights(["dense_0/kernel", "dense_0/bias"]);
  const bodyOf = async (m: ContinualModel) => (await weightsOf(m)).slice(0, 2);
  const body = await bodyOf(model);
  const updater = make("fine-tuning", model);
  for (const chunk of chunks) await updater.update(chunk);
  assert.equal(model.numClasses, 4);
  assert.deepEqual(await bodyOf(model), body);
  assert.ok((await evaluateDataset(model, test3)).accuracy > 0.5, "the new head column learns class 3 on frozen features");
  model.dispose();

  const frozenHead = buildModel(spec, { seed: 0 });
  frozenHead.freezeWeights(["head/kernel", "head/bias"]);
  const refused = make("fine-tuning", frozenHead);
  await refused.update(chunks[0]!);
  await assert.rejects(refused.update(chunks[2]!), (e: Error) => e instanceof ModelError && /head "head" to 4 classes: it is frozen/.test(e.message));
  assert.equal(refused.updatesDone, 1);
  frozenHead.dispose();
});

test("multi-head RD: a task whose chunk adds a class grows every head; the other task's head keeps its answers", async () => {
  const model = buildModel({ ...spec, multiHead: true }, { seed: 0 });
  const updater = make("rd", model, { maxEpochs: 10 });
  await updater.update(chunks[0]!, { taskId: "a" });
  const testA = part(testAll, [0, 1], 3);
  const before = (await evaluateDataset(model, testA, { taskId: "a" })).accuracy;
  const tensors = tf.memory().numTensors;
  await updater.update(chunks[2]!, { taskId: "b" });
  assert.equal(tf.memory().numTensors, tensors + 2, "only task b's new head (kernel, bias) is added");
  assert.equal(model.numClasses, 4);
  assert.deepEqual(model.taskIds(), ["a", "b"]);
  assert.deepEqual((updater as MemoryModelUpdater).memory.metadataSchema["logits"]!.rowShape, [4]);
  const after = (await evaluateDataset(model, testA, { taskId: "a" })).accuracy;
  assert.ok(before > 0.9 && after > 0.9, `task a accuracy ${before} -> ${after}`);
  assert.ok((await evaluateDataset(model, test3, { taskId: "b" })).accuracy > 0.8);
  model.dispose();
});

test("growing past classes with no sample (a mistyped label?) warns, naming them", async () => {
  const warnings: string[] = [];
  const logger = { warn: (m: string) => void warnings.push(m), info: () => undefined };
  const model = buildModel(spec, { seed: 0 });
  const updater = make("fine-tuning", model, { logger });
  await updater.update(chunks[0]!);
  const labels = Int32Array.from(chunks[0]!.labels);
  labels[4] = 9; // classes 3..8 have no sample
  await updater.update({ ...chunks[0]!, labels, numClasses: 10 });
  assert.equal(model.numClasses, 10);
  assert.deepEqual(warnings, ["growing to 10 classes adds classes without a sample in this update's data: 3, 4, 5, 6, 7, ... (6 classes); check the labels for a typo"]);
  model.dispose();
});

test("a growth that would add more than MAX_EMPTY_NEW_CLASSES classes without a sample (a label like 100000) is a DataError, and nothing changes", async () => {
  const model = buildModel(spec, { seed: 0 });
  const updater = make("fine-tuning", model, {});
  await updater.update(chunks[0]!);
  const weights = model.snapshotWeights();
  const kept = weights.map((w) => w.dataSync().slice());
  const tensors = tf.memory().numTensors;
  for (const label of [3 + MAX_EMPTY_NEW_CLASSES + 1, 100_000]) {
    const labels = Int32Array.from(chunks[0]!.labels);
    labels[4] = label;
    await assert.rejects(updater.update({ ...chunks[0]!, labels, numClasses: label + 1 }), (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.match(e.message, new RegExp(`from 3 to ${label + 1} classes \\(largest label ${label}\\) would add ${label - 3} classes without a single sample`));
      return true;
    });
    assert.equal(model.numClasses, 3);
    assert.equal(tf.memory().numTensors, tensors);
  }
  // The largest growth allowed still grows (and warns).
  const labels = Int32Array.from(chunks[0]!.labels);
  labels[4] = 3 + MAX_EMPTY_NEW_CLASSES;
  await updater.update({ ...chunks[0]!, labels, numClasses: 4 + MAX_EMPTY_NEW_CLASSES });
  assert.equal(model.numClasses, 4 + MAX_EMPTY_NEW_CLASSES);
  const grown = model.snapshotWeights();
  assert.equal(grown.length, kept.length);
  tf.dispose([...weights, ...grown]);
  model.dispose();
});
