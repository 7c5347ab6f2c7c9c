import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { useBackend } from "../helpers/backend.js";
import { splitBlobs } from "../helpers/continual_data.js";
import { buildModel, ContinualModel } from "../../src/model/continual_model.js";
import { subsetDataset } from "../../src/data/dataset_ops.js";
import { mlp } from "../../src/model/spec.js";
import { RepeatedDistillationModelUpdater, consolidationSchedule } from "../../src/updaters/repeated_distillation.js";
import { FineTuningModelUpdater } from "../../src/updaters/fine_tuning.js";
import { evaluateDataset } from "../../src/training/evaluate.js";
import { extractLogitsArray } from "../../src/training/logits.js";
import type { TrainingEvent } from "../../src/training/callbacks.js";
import { BackendError, DataError, OptionsError, StateError } from "../../src/errors.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 10;
const data = splitBlobs({ tasks: 3, samplesPerClass: 60, dims: DIMS });
const spec = mlp({ inputShape: [DIMS], hidden: [32], classes: 6 });
const base = { batchSize: 32, maxEpochs: 3, seed: 3, backend: "wasm" as const, optimizer: { name: "adam" as const, learningRate: 5e-3 } };

async function weightsOf(model: ContinualModel): Promise<Float32Array[]> {
  const snapshot = model.snapshotWeights();
  const values = await Promise.all(snapshot.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(snapshot);
  return values;
}

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), "relearn-rd-"));
}

test("consolidationSchedule follows SPEC section 2 step 6", () => {
  assert.deepEqual(consolidationSchedule({ batchSize: 32, memorySize: 500, batchMemoryFrac: 0.5, memoryLength: 500, chunkLength: 12000 }), {
    batchSize: 16,
    stepsPerEpoch: 32,
  });
  // memory larger than the chunk: the chunk bounds the steps ("fine-tuning-equivalent" epochs)
  assert.deepEqual(consolidationSchedule({ batchSize: 32, memorySize: 2000, batchMemoryFrac: 0.5, memoryLength: 2000, chunkLength: 100 }), {
    batchSize: 16,
    stepsPerEpoch: 7,
  });
  // memorySize smaller than frac * B caps the reservation
  assert.equal(consolidationSchedule({ batchSize: 32, memorySize: 4, batchMemoryFrac: 0.5, memoryLength: 4, chunkLength: 10 }).batchSize, 28);
  assert.throws(() => consolidationSchedule({ batchSize: 8, memorySize: 100, batchMemoryFrac: 1, memoryLength: 1, chunkLength: 1 }), OptionsError);
});

test("an update runs expert then consolidation with the SPEC's batch sizes and steps, refreshes logits, and leaks no tensor", async () => {
  const model = buildModel(spec, { seed: 0 });
  const events: TrainingEvent[] = [];
  const updater = new RepeatedDistillationModelUpdater({
    ...base,
    model,
    memorySize: 50,
    callbacks: [{ onTrainBegin: (e) => void events.push(e) }],
  });
  const tensorsBefore = tf.memory().numTensors;
  const returned = await updater.update(data.train[0]!, { valDataset: data.test[0]! });
  assert.equal(returned, model, "the caller's model object is the one updated");
  assert.deepEqual(events.map((e) => e.phase), ["expert", "consolidation"]);
  assert.equal(events[0]!.stepsPerEpoch, Math.ceil(120 / 32));
  // memory 50, bRD = 32 - min(50, 16) = 16: min(ceil(50/16), ceil(120/16)) = 4
  assert.equal(events[1]!.stepsPerEpoch, 4);
  assert.equal(updater.memory.length, 50);
  // every stored logit row is the consolidated model's
  const expected = await extractLogitsArray(model, updater.memory.asDataset(), 32);
  assert.deepEqual(Array.from(updater.memory.metadataColumn("logits")), Array.from(expected.values));
  await updater.update(data.train[1]!, { valDataset: data.test[1]! });
  assert.equal(tf.memory().numTensors, tensorsBefore, "no tensor leaks across updates");
  model.dispose();
});

test("the model is re-initialised in place: a user LayersModel object gets the new weights", async () => {
  const layers = tfl.sequential({
    layers: [tfl.layers.dense({ units: 16, activation: "relu", inputShape: [DIMS] }), tfl.layers.dense({ units: 6 })],
  });
  const before = layers.getWeights().map((w) => w.dataSync().slice());
  const updater = new RepeatedDistillationModelUpdater({ ...base, model: layers, memorySize: 40, maxEpochs: 1 });
  await updater.update(data.train[0]!);
  const after = layers.getWeights().map((w) => w.dataSync().slice());
  assert.notDeepEqual(after, before);
  const x = tf.tensor2d(data.test[0]!.features.subarray(0, DIMS * 3), [3, DIMS]);
  const direct = layers.predict(x) as tf.Tensor;
  const viaUpdater = updater.model.getLogits(x);
  assert.deepEqual(Array.from(direct.dataSync()), Array.from(viaUpdater.dataSync()));
  tf.dispose([x, direct, viaUpdater]);
  layers.dispose();
});

test("RD keeps old tasks that fine-tuning forgets (class-incremental blobs, 3 tasks)", async () => {
  const options = { ...base, maxEpochs: 15, optimizer: { name: "adam" as const, learningRate: 1e-2 } };
  const rdModel = buildModel(spec, { seed: 0 });
  const ftModel = buildModel(spec, { seed: 0 });
  const rd = new RepeatedDistillationModelUpdater({ ...options, model: rdModel, memorySize: 150 });
  const ft = new FineTuningModelUpdater({ ...options, model: ftModel });
  for (let t = 0; t < 3; t++) {
    await rd.update(data.train[t]!);
    await ft.update(data.train[t]!);
  }
  const oldAccuracy = async (model: ContinualModel) =>
    ((await evaluateDataset(model, data.test[0]!)).accuracy + (await evaluateDataset(model, data.test[1]!)).accuracy) / 2;
  const rdOld = await oldAccuracy(rdModel);
  const ftOld = await oldAccuracy(ftModel);
  const rdNew = (await evaluateDataset(rdModel, data.test[2]!)).accuracy;
  assert.ok(rdOld >= ftOld + 0.3, `RD old-task accuracy ${rdOld.toFixed(3)} must beat fine-tuning's ${ftOld.toFixed(3)} by 0.3`);
  assert.ok(rdOld > 0.6 && rdNew > 0.6, `RD learns every task seen: old ${rdOld.toFixed(3)}, new ${rdNew.toFixed(3)}`);
  rdModel.dispose();
  ftModel.dispose();
});

test("state round trip: save after update 1, resume in a fresh updater, update 2 == an uninterrupted run", async () => {
  const dir = await scratch();
  try {
    const options = { ...base, memorySize: 70, maxEpochs: 2 };
    const straightModel = buildModel(spec, { seed: 0 });
    const straight = new RepeatedDistillationModelUpdater({ ...options, model: straightModel });
    await straight.update(data.train[0]!, { valDataset: data.test[0]! });
    await straight.update(data.train[1]!, { valDataset: data.test[1]! });

    const first = new RepeatedDistillationModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), outputStateFolder: join(dir, "v1") });
    await first.update(data.train[0]!, { valDataset: data.test[0]! });
    first.model.dispose();
    const v1Manifest = await readFile(join(dir, "v1", "manifest.json"));

    const resumedModel = buildModel(spec, { seed: 0 });
    const resumed = new RepeatedDistillationModelUpdater({
      ...options,
      model: resumedModel,
      inputStateFolder: join(dir, "v1"),
      outputStateFolder: join(dir, "v2"),
    });
    await resumed.update(data.train[1]!, { valDataset: data.test[1]! });
    assert.equal(resumed.updatesDone, 2);
    assert.deepEqual(await weightsOf(resumedModel), await weightsOf(straightModel));
    assert.deepEqual(Array.from(resumed.memory.metadataColumn("logits")), Array.from(straight.memory.metadataColumn("logits")));
    assert.deepEqual(Array.from(resumed.memory.asDataset().labels), Array.from(straight.memory.asDataset().labels));
    assert.deepEqual(await readFile(join(dir, "v1", "manifest.json")), v1Manifest, "the input state is never modified");

    // a model can also come from the state alone
    const fromState = new RepeatedDistillationModelUpdater({ ...options, inputStateFolder: join(dir, "v2") });
    await fromState.prepare();
    assert.deepEqual(await weightsOf(fromState.model), await weightsOf(resumedModel));
    for (const m of [straightModel, resumedModel, fromState.model]) m.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a corrupt input state is a clear error, never a fresh start", async () => {
  const dir = await scratch();
  try {
    const options = { ...base, memorySize: 30, maxEpochs: 1 };
    const first = new RepeatedDistillationModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), outputStateFolder: join(dir, "s") });
    await first.update(data.train[0]!);
    first.model.dispose();
    const manifest = JSON.parse(await readFile(join(dir, "s", "manifest.json"), "utf8")) as { files: Record<string, unknown> };
    const memoryFile = Object.keys(manifest.files).find((f) => f.startsWith("memory/"))!;
    const bytes = await readFile(join(dir, "s", memoryFile));
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(join(dir, "s", memoryFile), bytes);
    const next = new RepeatedDistillationModelUpdater({ ...options, model: buildModel(spec, { seed: 0 }), inputStateFolder: join(dir, "s") });
    await assert.rejects(next.update(data.train[1]!), (e: unknown) => e instanceof StateError && e.message.includes(memoryFile));
    const noModel = new RepeatedDistillationModelUpdater({ ...options, inputStateFolder: join(dir, "missing") });
    await assert.rejects(noModel.prepare(), (e: unknown) => e instanceof StateError && /missing does not exist/.test((e as Error).message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("bad options and data are rejected with clear messages", async () => {
  const model = buildModel(spec, { seed: 0 });
  assert.throws(() => new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 10, batchMemoryFrac: 1.5 }), /batchMemoryFrac/);
  assert.throws(() => new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 0 }), /memorySize/);
  assert.throws(() => new RepeatedDistillationModelUpdater({ ...base, model } as never), /memorySize/);
  assert.throws(() => new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 10, maxEpocs: 3 } as never), /maxEpocs/);
  await assert.rejects(new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 10, precision: "16" }).prepare(), BackendError);
  await assert.rejects(new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 10, devices: 2 }).prepare(), BackendError);
  const updater = new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 10 });
  const wrongShape = { ...data.train[0]!, featureShape: [5, 2] };
  await assert.rejects(updater.update(wrongShape), (e: unknown) => e instanceof DataError && /shape \[5,2\]/.test((e as Error).message));
  const empty = { features: new Float32Array(0), labels: new Int32Array(0), featureShape: [DIMS], numClasses: 6, length: 0 };
  await assert.rejects(updater.update(empty), /empty/);
  model.dispose();
});

test("early stopping without a validation set warns and is ignored", async () => {
  const warnings: string[] = [];
  const model = buildModel(spec, { seed: 0 });
  const updater = new RepeatedDistillationModelUpdater({
    ...base,
    model,
    memorySize: 20,
    maxEpochs: 2,
    metric: "val_loss",
    earlyStoppingEnabled: true,
    logger: { info: () => {}, warn: (m) => void warnings.push(m) },
  });
  await updater.update(data.train[0]!);
  assert.ok(warnings.some((w) => /validation set/.test(w)), warnings.join("\n"));
  assert.deepEqual(updater.lastUpdatePhases.map((p) => p.epochsRun), [2, 2]);
  model.dispose();
});

test("task-incremental: a multi-head model grows a head per task id and keeps them through a state folder", async () => {
  const dir = await scratch();
  try {
    const multi = mlp({ inputShape: [DIMS], hidden: [16], classes: 6, multiHead: true });
    const model = buildModel(multi, { seed: 0 });
    const options = { ...base, memorySize: 60, maxEpochs: 2 };
    const first = new RepeatedDistillationModelUpdater({ ...options, model, outputStateFolder: join(dir, "v1") });
    await first.update(data.train[0]!, { taskId: "task-0" });
    await first.update(data.train[1]!, { taskId: "task-1" });
    assert.deepEqual(model.taskIds(), ["task-0", "task-1"]);
    const resumed = new RepeatedDistillationModelUpdater({ ...options, model: buildModel(multi, { seed: 0 }), inputStateFolder: join(dir, "v1") });
    await resumed.prepare();
    assert.deepEqual(resumed.model.taskIds(), ["task-0", "task-1"]);
    assert.deepEqual(await weightsOf(resumed.model), await weightsOf(model));
    model.dispose();
    resumed.model.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("consolidationEpochs sets the consolidation phase's epochs apart from maxEpochs; the default is Renate's (maxEpochs)", async () => {
  const epochsOf = async (extra: { consolidationEpochs?: number }) => {
    const model = buildModel(spec, { seed: 0 });
    const updater = new RepeatedDistillationModelUpdater({ ...base, model, memorySize: 40, maxEpochs: 2, ...extra });
    await updater.update(data.train[0]!);
    model.dispose();
    return updater.lastUpdatePhases.map((p) => [p.phase, p.epochsRun]);
  };
  assert.deepEqual(await epochsOf({}), [["expert", 2], ["consolidation", 2]]);
  assert.deepEqual(await epochsOf({ consolidationEpochs: 5 }), [["expert", 2], ["consolidation", 5]]);
  assert.throws(() => new RepeatedDistillationModelUpdater({ ...base, model: spec, memorySize: 40, consolidationEpochs: -1 }), /consolidationEpochs/);
});

test("early stopping and best-epoch restore apply to the consolidation phase", async () => {
  const model = buildModel(spec, { seed: 0 });
  const updater = new RepeatedDistillationModelUpdater({
    ...base,
    model,
    memorySize: 60,
    maxEpochs: 1,
    consolidationEpochs: 40,
    optimizer: { name: "sgd", learningRate: 2 }, // diverges: val_loss stops improving quickly
    metric: "val_loss",
    earlyStoppingEnabled: true,
    earlyStoppingPatience: 2,
  });
  await updater.update(data.train[0]!, { valDataset: data.test[0]! });
  const consolidation = updater.lastUpdatePhases.find((p) => p.phase === "consolidation")!;
  assert.ok(consolidation.stoppedEarly && consolidation.epochsRun < 40, `ran ${consolidation.epochsRun} epochs`);
  assert.equal(consolidation.epochsRun, consolidation.bestEpoch! + 3);
  model.dispose();
});

test("the rd-budget preset's rule: about 25,000 memory items per consolidation, never fewer epochs than maxEpochs", async () => {
  const { budgetConsolidationEpochs } = await import("../../src/updaters/repeated_distillation.js");
  const { createUpdater } = await import("../../src/updaters/registry.js");
  assert.equal(budgetConsolidationEpochs(500, 5), 50);
  assert.equal(budgetConsolidationEpochs(2000, 5), 13);
  assert.equal(budgetConsolidationEpochs(200, 5), 125);
  assert.equal(budgetConsolidationEpochs(100_000, 5), 5);
  const preset = createUpdater("rd-budget", { model: spec, memorySize: 500, maxEpochs: 5 }) as RepeatedDistillationModelUpdater;
  assert.equal(preset.consolidationEpochs, 50);
  const faithful = createUpdater("rd", { model: spec, memorySize: 500, maxEpochs: 5 }) as RepeatedDistillationModelUpdater;
  assert.equal(faithful.consolidationEpochs, 5);
});

test("a chunk much smaller than the memory: RD warns that its consolidation sees less than one pass per epoch, and says what helps", async () => {
  const warnings: string[] = [];
  const updater = new RepeatedDistillationModelUpdater({
    ...base,
    model: buildModel(spec, { seed: 0 }),
    memorySize: 200,
    logger: { info: () => {}, warn: (m) => void warnings.push(m) },
  });
  await updater.update(data.train[0]!); // 120 items, memory 120 of 200: an epoch covers the memory
  assert.deepEqual(warnings, []);
  const small = subsetDataset(data.train[1]!, Int32Array.from([0, 1, 2, 3]));
  await updater.update(small);
  // Batch 32 - floor(0.5 * 32) = 16 memory items per step; ceil(4 / 16) = 1 step per epoch; ceil(124 / 16) = 8 for a pass.
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(
    warnings[0]!,
    /3 epoch\(s\) of 1 step\(s\) of 16 items \(an epoch is sized by the chunk, 4 items, as in Renate\): 48 memory items seen, fewer than one pass per epoch over the 124 in the memory.* use rd-budget, or set consolidationEpochs \(24 gives one pass per epoch\)/,
  );
  updater.dispose();
});
