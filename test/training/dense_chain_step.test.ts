// The training loop's whole-step path for plain MLPs (training/dense_chain_step.ts):
// bit-identical to the general path (tf.variableGrads) on wasm and cpu, taken
// only when it applies, and leaving no tensor or backend buffer behind.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { useBackend } from "../helpers/backend.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { ContinualModel, buildModel } from "../../src/model/continual_model.js";
import { setChainForwardEnabled } from "../../src/model/chain_forward.js";
import { cnn, mlp, type ModelSpec } from "../../src/model/spec.js";
import { datasetSource } from "../../src/training/batch_source.js";
import { crossEntropyBatchLoss, crossEntropyLoss, doubleDistillationBatchLoss, doubleDistillationLoss } from "../../src/training/losses.js";
import { trainModel, wholeStepChain, type TrainOptions, type TrainResult } from "../../src/training/loop.js";
import { setDenseChainStepEnabled } from "../../src/training/dense_chain_step.js";

after(() => setDenseChainStepEnabled(true));

// 4 x 41 = 164 rows: batches of 16 leave a ragged last batch of 4.
const data = makeGaussianBlobs({ numClasses: 4, samplesPerClass: 41, dims: 12, seed: 5, sampleSeed: 1 });
const spec = mlp({ inputShape: [12], hidden: [16, 8], classes: 4 });

// RD's consolidation data: a stored logit row per item (any values: a teacher's logits), and the memory's row tasks,
// which a single-head model ignores (two task ids, so the rows really name different tasks).
const storedLogits = Float32Array.from({ length: data.length * 4 }, (_, i) => Math.fround(Math.sin(i * 0.7) * 3 + (i % 4) * 0.5));
const memoryTasks = { taskIds: ["t0", "t1"], rows: Int32Array.from({ length: data.length }, (_, i) => i % 2) };
const distillation: Partial<TrainOptions> = {
  data: datasetSource(data, { targets: { values: storedLogits, width: 4 }, tasks: memoryTasks }),
  loss: doubleDistillationBatchLoss,
};

function options(model: ContinualModel, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model,
    taskId: "default_task",
    phase: "test",
    data: datasetSource(data),
    loss: crossEntropyBatchLoss,
    batchSize: 16,
    epochs: 3,
    optimizer: { name: "adam", learningRate: 1e-2 },
    seed: 3,
    ...extra,
  };
}

/** Trains a fresh model of `modelSpec` with the whole-step path on or off; weights (bitwise) and logs. */
async function trainWith(wholeStep: boolean, modelSpec: ModelSpec, extra: Partial<TrainOptions>): Promise<{ weights: Float32Array[]; history: TrainResult["history"] }> {
  setDenseChainStepEnabled(wholeStep);
  const model = buildModel(modelSpec, { seed: 0 });
  try {
    const result = await trainModel(options(model, extra));
    const snapshot = model.snapshotWeights();
    const weights = snapshot.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(snapshot);
    return { weights, history: result.history };
  } finally {
    setDenseChainStepEnabled(true);
    model.dispose();
  }
}

const cases: Array<{ name: string; spec: ModelSpec; extra: Partial<TrainOptions> }> = [
  { name: "Adam", spec, extra: {} },
  { name: "AdamW, class mask, gradient clipping", spec, extra: { optimizer: { name: "adamw", learningRate: 1e-2 }, allowedClasses: [0, 1, 2], gradientClipping: { value: 0.5, algorithm: "norm" } } },
  { name: "SGD with momentum, dropout", spec: mlp({ inputShape: [12], hidden: [16, 8], classes: 4, dropout: 0.3 }), extra: { optimizer: { name: "sgd", learningRate: 0.1, momentum: 0.9 } } },
  { name: "flattened image input, one hidden layer", spec: mlp({ inputShape: [3, 4], hidden: [16], classes: 4 }), extra: {} },
  { name: "double distillation (RD's consolidation), Adam, batches with row tasks", spec, extra: distillation },
  { name: "double distillation, SGD with momentum, dropout, gradient clipping", spec: mlp({ inputShape: [12], hidden: [16, 8], classes: 4, dropout: 0.3 }), extra: { ...distillation, optimizer: { name: "sgd", learningRate: 0.1, momentum: 0.9 }, gradientClipping: { value: 0.5, algorithm: "norm" } } },
];

for (const backend of ["wasm", "cpu"] as const) {
  for (const { name, spec: caseSpec, extra } of cases) {
    test(`${backend}, ${name}: the whole step gives the general path's weights and logs bit for bit`, async () => {
      await useBackend(backend);
      const data3d = caseSpec.inputShape.length > 1 ? { data: datasetSource({ ...data, featureShape: caseSpec.inputShape }) } : {};
      const general = await trainWith(false, caseSpec, { ...extra, ...data3d });
      const whole = await trainWith(true, caseSpec, { ...extra, ...data3d });
      assert.deepEqual(whole.history, general.history);
      assert.equal(whole.weights.length, general.weights.length);
      whole.weights.forEach((w, i) => assert.ok(Buffer.from(w.buffer).equals(Buffer.from(general.weights[i]!.buffer)), `weight ${i} differs`));
    });
  }
}

test("the loop takes the whole step (no BatchMatMul through the engine) and leaks neither tensors nor backend buffers", async () => {
  await useBackend("wasm");
  const model = buildModel(spec, { seed: 0 });
  await trainModel(options(model, { epochs: 1 })); // warm-up: optimizer state and kernel setup
  const tensors = tf.memory().numTensors;
  const buffers = tf.backend().numDataIds();
  const profile = await tf.profile(async () => void (await trainModel(options(model))));
  assert.equal(profile.kernels.filter((k) => k.name === "BatchMatMul").length, 0, "matmuls run outside the engine");
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(tf.backend().numDataIds(), buffers);
  // RD's consolidation (distillation towards stored logits, batches carrying the memory's row tasks) too.
  await trainModel(options(model, { ...distillation, epochs: 1 }));
  const distilled = await tf.profile(async () => void (await trainModel(options(model, distillation))));
  assert.equal(distilled.kernels.filter((k) => k.name === "BatchMatMul").length, 0, "distillation takes the whole step");
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(tf.backend().numDataIds(), buffers);
  setDenseChainStepEnabled(false);
  const general = await tf.profile(async () => void (await trainModel(options(model, { epochs: 1 }))));
  setDenseChainStepEnabled(true);
  assert.ok(general.kernels.some((k) => k.name === "BatchMatMul"), "the general path dispatches its matmuls");
  model.dispose();
});

test("the path applies only to plain dense chains with plain cross-entropy and exactly the chain's weights trained", async () => {
  await useBackend("wasm");
  const applies = (model: ContinualModel, extra: Partial<TrainOptions> = {}, taskIds = ["default_task"]): boolean =>
    wholeStepChain(options(model, extra), model.trainableVariables(taskIds)) !== null;
  const model = buildModel(spec, { seed: 0 });
  assert.ok(applies(model));
  assert.ok(applies(model, { allowedClasses: [0, 1], gradientClipping: { value: 1, algorithm: "value" }, optimizer: { name: "sgd", learningRate: 0.1 } }));
  // RD's distillation loss applies too.
  assert.ok(applies(model, { loss: doubleDistillationBatchLoss }));
  // Another loss, even the same formula in another function; activations read by the loss; extra heads.
  assert.ok(!applies(model, { loss: (logits, batch) => crossEntropyLoss(logits, batch.labels) }));
  assert.ok(!applies(model, { loss: (logits, batch) => doubleDistillationLoss(logits, batch.targets!) }));
  assert.ok(!applies(model, { activations: ["dense_0"] }));
  assert.ok(!applies(model, { extraHeads: ["other"] }));
  // Switched off, or the op-chain forward off (the benchmark's stock tfjs).
  setDenseChainStepEnabled(false);
  assert.ok(!applies(model));
  setDenseChainStepEnabled(true);
  setChainForwardEnabled(false);
  assert.ok(!applies(model));
  setChainForwardEnabled(true);
  // Trained variables other than the chain's weights (a head not in the chain).
  assert.ok(!applies(model, {}, []));
  // A frozen layer: its weights are not trained, so the chain's weights are not the trained ones.
  const frozen = buildModel(spec, { seed: 0 });
  frozen.freezeWeights(["dense_0/kernel"]);
  assert.ok(!applies(frozen));
  // Not a plain dense chain: a CNN, tanh, batch norm.
  const others = [
    buildModel(cnn({ inputShape: [8, 8, 1], conv: [{ filters: 2, kernelSize: 3 }], dense: [4], classes: 3 }), { seed: 0 }),
    buildModel(mlp({ inputShape: [12], hidden: [8], classes: 4, activation: "tanh" }), { seed: 0 }),
    buildModel(mlp({ inputShape: [12], hidden: [8], classes: 4, batchNorm: true }), { seed: 0 }),
  ];
  for (const other of others) assert.ok(!applies(other));
  // A user's Sequential of Dense layers applies; its own softmax output layer does not.
  const sequential = (activation: "linear" | "softmax") =>
    ContinualModel.fromLayersModel(
      tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [12], units: 8, activation: "relu" }), tfl.layers.dense({ units: 4, activation })] }),
    );
  const plainUser = sequential("linear");
  const softmaxUser = sequential("softmax");
  assert.ok(applies(plainUser));
  assert.ok(!applies(softmaxUser));
  for (const m of [model, frozen, ...others, plainUser, softmaxUser]) m.dispose();
});
