import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ContinualModel } from "../../src/model/continual_model.js";
import { ModelError } from "../../src/errors.js";
import { expectNoTensorLeak, useBackend, valuesOf } from "../helpers/backend.js";

before(async () => {
  await useBackend("wasm");
});

function weightsByName(model: tfl.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
}

function userSequential(): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ filters: 3, kernelSize: 3, inputShape: [6, 6, 1], name: "conv" }),
      tfl.layers.batchNormalization({ name: "bn" }),
      tfl.layers.flatten({ name: "flat" }),
      tfl.layers.dense({ units: 4, name: "out", biasInitializer: "randomNormal" }),
    ],
  });
}

function userFunctional(): tfl.LayersModel {
  const input = tfl.input({ shape: [5], name: "in" });
  const left = tfl.layers.dense({ units: 3, activation: "relu", name: "left" }).apply(input) as tfl.SymbolicTensor;
  const right = tfl.layers.dense({ units: 2, kernelInitializer: "heUniform", name: "right" }).apply(input) as tfl.SymbolicTensor;
  const merged = tfl.layers.concatenate({ name: "merge" }).apply([left, right]) as tfl.SymbolicTensor;
  const normed = tfl.layers.layerNormalization({ name: "norm" }).apply(merged) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: 3, name: "logits" }).apply(normed) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output });
}

/** Reinitialise twice with one seed (after perturbing) and once with another; check identity and values. */
function checkReinitialize(layersModel: tfl.LayersModel, perturbInput: tf.Tensor): void {
  const model = ContinualModel.fromLayersModel(layersModel, { seed: 1 });
  const variablesBefore = layersModel.weights.map((w) => w.read());
  const original = weightsByName(layersModel);

  model.getLogits(perturbInput, undefined, true).dispose(); // moves any batch-norm moving statistics
  model.reinitialize(5);
  const fresh = weightsByName(layersModel);
  for (const [name, values] of fresh) {
    const random = !/moving_|beta|gamma|bias/.test(name) || name === "out/bias";
    if (random) assert.ok(values.some((v, i) => v !== original.get(name)![i]), `${name} must change`);
  }
  // Same tf.Variable objects: whoever holds them (an optimizer, the caller) sees the new values.
  assert.deepEqual(layersModel.weights.map((w) => w.read()), variablesBefore);

  const snapshot = model.snapshotWeights();
  model.reinitialize(6);
  assert.ok([...weightsByName(layersModel)].some(([name, v]) => v.some((x, i) => x !== fresh.get(name)![i])));
  model.restoreWeights(snapshot);
  model.reinitialize(5);
  assert.deepEqual(weightsByName(layersModel), fresh);
  tf.dispose(snapshot);
  model.dispose();
}

test("user Sequential (conv2d + batchNormalization + dense): in place, seeded, moving statistics reset", async () => {
  await expectNoTensorLeak(() => {
    const layersModel = userSequential();
    const x = tf.randomNormal([8, 6, 6, 1], 4, 3, "float32", 1);
    const model = ContinualModel.fromLayersModel(layersModel);
    model.getLogits(x, undefined, true).dispose();
    assert.ok(weightsByName(layersModel).get("bn/moving_mean")!.some((v) => v !== 0));
    model.reinitialize(3);
    const after = weightsByName(layersModel);
    assert.deepEqual([...after.get("bn/moving_mean")!], [0, 0, 0]);
    assert.deepEqual([...after.get("bn/moving_variance")!], [1, 1, 1]);
    assert.deepEqual([...after.get("bn/gamma")!], [1, 1, 1]);
    assert.deepEqual([...after.get("conv/bias")!], [0, 0, 0]);
    // The user's own biasInitializer (randomNormal, std 0.05) is the one used.
    assert.ok(after.get("out/bias")!.some((v) => v !== 0));
    assert.ok(after.get("out/bias")!.every((v) => Math.abs(v) < 0.05 * 6));
    checkReinitialize(layersModel, x);
    tf.dispose(x);
  });
});

test("user functional model (two branches, concatenate, layerNormalization): in place and seeded", async () => {
  await expectNoTensorLeak(() => {
    const layersModel = userFunctional();
    const x = tf.randomNormal([4, 5], 0, 1, "float32", 2);
    // heUniform keeps values within sqrt(6 / fanIn).
    const model = ContinualModel.fromLayersModel(layersModel);
    model.reinitialize(9);
    const right = weightsByName(layersModel).get("right/kernel")!;
    assert.ok(right.every((v) => Math.abs(v) <= Math.sqrt(6 / 5)));
    assert.ok(std(right) > 0.3, "heUniform std is sqrt(2/5) = 0.63");
    checkReinitialize(layersModel, x);
    tf.dispose(x);
  });
});

test("embedding, LSTM (recurrent kernel, unit forget bias) and depthwise conv weights find their initializers", async () => {
  // Building an LSTM leaks 4 tensors inside tfjs-layers itself, so the leak
  // check covers relearn's part only: reinitialize, then dispose.
  const tokens = tfl.input({ shape: [4], name: "tokens" });
  const embedded = tfl.layers.embedding({ inputDim: 10, outputDim: 3, name: "embed" }).apply(tokens) as tfl.SymbolicTensor;
  const lstm = tfl.layers.lstm({ units: 2, unitForgetBias: true, name: "lstm" }).apply(embedded) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: 2, name: "logits" }).apply(lstm) as tfl.SymbolicTensor;
  const layersModel = tfl.model({ inputs: tokens, outputs: output });
  const model = ContinualModel.fromLayersModel(layersModel);
  const before = weightsByName(layersModel);
  await expectNoTensorLeak(() => model.reinitialize(4));
  const after = weightsByName(layersModel);
  for (const name of ["embed/embeddings", "lstm/kernel", "lstm/recurrent_kernel"]) {
    assert.ok(after.get(name)!.some((v, i) => v !== before.get(name)![i]), name);
  }
  // The default recurrent initializer is orthogonal: the 2 rows of the [2, 8] kernel are orthonormal.
  const recurrent = after.get("lstm/recurrent_kernel")!;
  const [row0, row1] = [recurrent.slice(0, 8), recurrent.slice(8, 16)];
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  assert.ok(Math.abs(dot(row0, row0) - 1) < 1e-5 && Math.abs(dot(row1, row1) - 1) < 1e-5);
  assert.ok(Math.abs(dot(row0, row1)) < 1e-5, `rows must be orthogonal, dot ${dot(row0, row1)}`);
  // Bias blocks are [input, forget, cell, output] gates: the forget gate starts at 1.
  assert.deepEqual([...after.get("lstm/bias")!], [0, 0, 1, 1, 0, 0, 0, 0]);
  const count = tf.memory().numTensors;
  model.dispose();
  assert.equal(tf.memory().numTensors, count - layersModel.weights.length);

  await expectNoTensorLeak(() => {
    const depthwise = tfl.sequential({
      layers: [tfl.layers.depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, inputShape: [4, 4, 2], name: "dw" }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })],
    });
    const wrapped = ContinualModel.fromLayersModel(depthwise);
    const kernelBefore = weightsByName(depthwise).get("dw/depthwise_kernel")!;
    wrapped.reinitialize(4);
    assert.ok(weightsByName(depthwise).get("dw/depthwise_kernel")!.some((v, i) => v !== kernelBefore[i]));
    wrapped.dispose();
  });
});

test("a weight whose initializer cannot be found is a ModelError naming layer and weight", async () => {
  await expectNoTensorLeak(() => {
    const layersModel = userSequential();
    delete (layersModel.getLayer("out") as unknown as Record<string, unknown>)["kernelInitializer"];
    const model = ContinualModel.fromLayersModel(layersModel);
    assert.throws(() => model.reinitialize(1), (error: unknown) => {
      assert.ok(error instanceof ModelError);
      assert.match(error.message, /weight "out\/kernel" of layer "out" \(Dense\)/);
      return true;
    });
    model.dispose();
  });
});

test("cloneFresh of a user model: same architecture, new weights, deterministic per seed", async () => {
  await expectNoTensorLeak(() => {
    for (const build of [userSequential, userFunctional]) {
      const model = ContinualModel.fromLayersModel(build(), { seed: 1 });
      const a = model.cloneFresh(3);
      const b = model.cloneFresh(3);
      const c = model.cloneFresh(4);
      assert.equal(a.numParameters(), model.numParameters());
      assert.deepEqual(a.inputShape, model.inputShape);
      assert.equal(a.numClasses, 4 - (build === userFunctional ? 1 : 0));
      const [va, vb, vc, vm] = [a, b, c, model].map((m) => {
        const snapshot = m.snapshotWeights();
        const values = valuesOf(snapshot);
        tf.dispose(snapshot);
        return values;
      });
      assert.deepEqual(va, vb);
      assert.notDeepEqual(va, vc);
      assert.notDeepEqual(va, vm);
      const x = tf.ones([2, ...model.inputShape]);
      const logits = a.getLogits(x);
      assert.deepEqual(logits.shape, [2, model.numClasses]);
      tf.dispose([x, logits]);
      for (const m of [model, a, b, c]) m.dispose();
    }
  });
});

test("fromLayersModel rejects models whose output is not [batch, classes]", async () => {
  await expectNoTensorLeak(() => {
    const input = tfl.input({ shape: [4, 4] });
    const output = tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor;
    const layersModel = tfl.model({ inputs: input, outputs: output, name: "seq_out" });
    assert.throws(() => ContinualModel.fromLayersModel(layersModel), {
      name: "ModelError",
      message: /model "seq_out" outputs shape \[null, 4, 2\]/,
    });
    layersModel.dispose();
  });
});

function std(values: Float32Array): number {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
}
