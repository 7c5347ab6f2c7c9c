import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { splitBlobs } from "../helpers/continual_data.js";
import { buildModel, type ContinualModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { FineTuningModelUpdater } from "../../src/updaters/fine_tuning.js";
import { JointModelUpdater } from "../../src/updaters/joint.js";
import { evaluateDataset } from "../../src/training/evaluate.js";

before(async () => {
  await useBackend("wasm");
});

const DIMS = 10;
const data = splitBlobs({ tasks: 3, samplesPerClass: 60, dims: DIMS });
const spec = mlp({ inputShape: [DIMS], hidden: [32], classes: 6 });
const base = { batchSize: 32, maxEpochs: 15, seed: 3, backend: "wasm" as const, optimizer: { name: "adam" as const, learningRate: 1e-2 } };

const meanAccuracy = async (model: ContinualModel, tasks: number[]) =>
  (await Promise.all(tasks.map(async (t) => (await evaluateDataset(model, data.test[t]!)).accuracy))).reduce((a, b) => a + b) / tasks.length;

test("joint (upper bound) keeps every task; fine-tuning (lower bound) forgets; neither leaks tensors", async () => {
  const jointModel = buildModel(spec, { seed: 0 });
  const ftModel = buildModel(spec, { seed: 0 });
  const joint = new JointModelUpdater({ ...base, model: jointModel });
  const ft = new FineTuningModelUpdater({ ...base, model: ftModel });
  await joint.update(data.train[0]!);
  await ft.update(data.train[0]!);
  const tensors = tf.memory().numTensors;
  for (let t = 1; t < 3; t++) {
    await joint.update(data.train[t]!);
    await ft.update(data.train[t]!);
  }
  assert.equal(tf.memory().numTensors, tensors);
  const jointAll = await meanAccuracy(jointModel, [0, 1, 2]);
  const ftOld = await meanAccuracy(ftModel, [0, 1]);
  assert.ok(jointAll > 0.95, `joint ${jointAll}`);
  assert.ok(ftOld < 0.6, `fine-tuning should forget, old-task accuracy ${ftOld}`);
  assert.ok((await meanAccuracy(ftModel, [2])) > 0.9, "fine-tuning learns the newest task");
  jointModel.dispose();
  ftModel.dispose();
});

test("fine-tuning continues from the current weights; joint and fine-tuning resume from state exactly", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relearn-baselines-"));
  try {
    for (const Updater of [JointModelUpdater, FineTuningModelUpdater]) {
      const options = { ...base, maxEpochs: 2 };
      const straight = new Updater({ ...options, model: buildModel(spec, { seed: 0 }) });
      await straight.update(data.train[0]!);
      await straight.update(data.train[1]!);
      const first = new Updater({ ...options, model: buildModel(spec, { seed: 0 }), outputStateFolder: join(dir, Updater.name, "v1") });
      await first.update(data.train[0]!);
      first.model.dispose();
      const resumed = new Updater({ ...options, model: buildModel(spec, { seed: 0 }), inputStateFolder: join(dir, Updater.name, "v1") });
      await resumed.update(data.train[1]!);
      const a = straight.model.snapshotWeights();
      const b = resumed.model.snapshotWeights();
      assert.deepEqual(a.map((t) => Array.from(t.dataSync())), b.map((t) => Array.from(t.dataSync())), Updater.name);
      tf.dispose([...a, ...b]);
      straight.model.dispose();
      resumed.model.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("maskUnusedClasses: joint and fine-tuning leave the logits of classes not trained on untouched", async () => {
  for (const Updater of [JointModelUpdater, FineTuningModelUpdater]) {
    const outputBias = async (mask: boolean): Promise<number[]> => {
      const model = buildModel(spec, { seed: 0 });
      await new Updater({ ...base, maxEpochs: 2, model, maskUnusedClasses: mask }).update(data.train[0]!);
      const bias = Array.from(model.trainableVariables().at(-1)!.dataSync());
      model.dispose();
      return bias;
    };
    // Task 0 holds classes 0 and 1; the head's bias starts at zero.
    const masked = await outputBias(true);
    assert.deepEqual(masked.slice(2), [0, 0, 0, 0], `${Updater.name}: masked classes moved: ${masked}`);
    assert.ok(masked.slice(0, 2).some((b) => b !== 0));
    const unmasked = await outputBias(false);
    assert.ok(unmasked.slice(2).some((b) => b !== 0), `${Updater.name}: without the mask every class trains`);
  }
});
