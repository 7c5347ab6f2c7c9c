import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { ContinualModel, DEFAULT_TASK_ID, buildModel } from "../../src/model/continual_model.js";
import { cnn, mlp, type ModelSpec } from "../../src/model/spec.js";
import { ModelError } from "../../src/errors.js";
import { expectNoTensorLeak, useBackend, valuesOf } from "../helpers/backend.js";

before(async () => {
  await useBackend("wasm");
});

const weightsOf = (model: ContinualModel): Float32Array[] => {
  const snapshot = model.snapshotWeights();
  const values = valuesOf(snapshot);
  tf.dispose(snapshot);
  return values;
};

const sameValues = (a: Float32Array[], b: Float32Array[]): boolean =>
  a.length === b.length && a.every((values, i) => Buffer.from(values.buffer).equals(Buffer.from(b[i]!.buffer)));

function logitsOf(model: ContinualModel, x: tf.Tensor, taskId?: string, training = false): Float32Array {
  const logits = model.getLogits(x, taskId, training);
  const values = Float32Array.from(logits.dataSync());
  logits.dispose();
  return values;
}

function std(values: Float32Array): number {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
}

test("mlp 784-256-256-10 has 269322 parameters, glorot-scaled kernels and [batch, 10] logits", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel(mlp({ inputShape: [784], hidden: [256, 256], classes: 10 }), { seed: 1 });
    assert.equal(model.numParameters(), 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
    assert.equal(model.numParameters(), 269322);
    assert.deepEqual(model.inputShape, [784]);
    assert.equal(model.numClasses, 10);
    assert.equal(model.multiHead, false);
    assert.deepEqual(model.taskIds(), [DEFAULT_TASK_ID]);
    // tfjs's default Dense kernel initializer is glorotNormal: a normal of sigma sqrt(2 / (fanIn + fanOut))
    // truncated at 2 sigma (tfjs does not rescale it as Keras does), whose std is 0.8796 sigma.
    const firstKernel = weightsOf(model)[0]!;
    assert.equal(firstKernel.length, 784 * 256);
    const expectedStd = 0.87962566 * Math.sqrt(2 / (784 + 256));
    assert.ok(Math.abs(std(firstKernel) / expectedStd - 1) < 0.02, `std ${std(firstKernel)}`);
    assert.ok(firstKernel.every((v) => Math.abs(v) <= 2 * Math.sqrt(2 / (784 + 256)) + 1e-7));
    const x = tf.zeros([3, 784]);
    const logits = model.getLogits(x);
    assert.deepEqual(logits.shape, [3, 10]);
    tf.dispose([x, logits]);
    model.dispose();
  });
});

test("mlp with batchNorm counts the 4 batch-norm vectors per hidden layer; flattens a multi-dim input", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel(mlp({ inputShape: [28, 28], hidden: [64], classes: 10, batchNorm: true, dropout: 0.2 }), { seed: 1 });
    assert.equal(model.numParameters(), 784 * 64 + 64 + 4 * 64 + 64 * 10 + 10);
    const x = tf.ones([2, 28, 28]);
    const logits = model.getLogits(x);
    assert.deepEqual(logits.shape, [2, 10]);
    tf.dispose([x, logits]);
    model.dispose();
  });
});

test("cnn parameter count matches a hand count ('same' convs, 2x2 pools)", async () => {
  await expectNoTensorLeak(() => {
    const spec = cnn({
      inputShape: [28, 28, 1],
      conv: [{ filters: 8, kernelSize: 3, pool: true }, { filters: 16, kernelSize: 3, stride: 2 }],
      dense: [32],
      classes: 10,
    });
    const model = buildModel(spec, { seed: 3 });
    // conv0 3*3*1*8+8 = 80 -> 28x28x8, pool -> 14x14x8; conv1 3*3*8*16+16 = 1168, stride 2 -> 7x7x16 = 784
    // dense 784*32+32 = 25120; head 32*10+10 = 330.
    assert.equal(model.numParameters(), 80 + 1168 + 25120 + 330);
    const x = tf.ones([2, 28, 28, 1]);
    const logits = model.getLogits(x);
    assert.deepEqual(logits.shape, [2, 10]);
    tf.dispose([x, logits]);
    model.dispose();
  });
});

test("same spec + seed gives bitwise identical weights; another seed different ones", async () => {
  await expectNoTensorLeak(() => {
    const spec = cnn({ inputShape: [8, 8, 2], conv: [{ filters: 4, kernelSize: 3 }], dense: [6], classes: 3, batchNorm: true });
    const a = buildModel(spec, { seed: 7 });
    const b = buildModel(spec, { seed: 7 });
    const c = buildModel(spec, { seed: 8 });
    assert.ok(sameValues(weightsOf(a), weightsOf(b)));
    const [kernelA, kernelC] = [weightsOf(a)[0]!, weightsOf(c)[0]!];
    assert.ok(kernelA.some((v, i) => v !== kernelC[i]));
    for (const model of [a, b, c]) model.dispose();
  });
});

test("an input of the wrong shape is a ModelError naming both shapes", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel(mlp({ inputShape: [4], hidden: [3], classes: 2 }), { seed: 1 });
    const x = tf.ones([2, 5]);
    assert.throws(() => model.getLogits(x), { name: "ModelError", message: /\[2, 5\].*\[batch, 4\]/ });
    tf.dispose(x);
    model.dispose();
  });
});

test("multi-head: one head per task id, seeded, with its own logits and its own trainable variables", async () => {
  await expectNoTensorLeak(() => {
    const spec: ModelSpec = mlp({ inputShape: [5], hidden: [8], classes: 3, multiHead: true });
    const model = buildModel(spec, { seed: 11 });
    assert.deepEqual(model.taskIds(), []);
    assert.equal(model.numParameters(), 5 * 8 + 8);
    model.ensureHead("a");
    model.ensureHead("b/c");
    const before = weightsOf(model);
    model.ensureHead("a"); // seen before: nothing changes
    assert.ok(sameValues(weightsOf(model), before));
    assert.deepEqual(model.taskIds(), ["a", "b/c"]);
    assert.equal(model.numParameters(), 5 * 8 + 8 + 2 * (8 * 3 + 3));

    const x = tf.randomNormal([4, 5], 0, 1, "float32", 1);
    const [logitsA, logitsB] = [logitsOf(model, x, "a"), logitsOf(model, x, "b/c")];
    assert.equal(logitsA.length, 4 * 3);
    assert.ok(logitsA.some((v, i) => v !== logitsB[i]), "heads must differ");
    assert.throws(() => model.getLogits(x, "unseen"), (error: unknown) => {
      assert.ok(error instanceof ModelError);
      assert.match(error.message, /no head for task "unseen" \(known tasks: "a", "b\/c"\)/);
      return true;
    });

    // Body variables + that task's head, and they are what its loss depends on.
    const varsA = model.trainableVariables("a");
    const varsB = model.trainableVariables("b/c");
    assert.equal(varsA.length, 4);
    assert.deepEqual(varsA.slice(0, 2), varsB.slice(0, 2));
    assert.notEqual(varsA[2], varsB[2]);
    const { value, grads } = tf.variableGrads(() => tf.sum(model.getLogits(x, "a", true)) as tf.Scalar, varsA);
    for (const variable of varsA) assert.ok(grads[variable.name] !== undefined, variable.name);
    tf.dispose([value, ...Object.values(grads)]);

    // A head for a task id is the same in every model built from the same seed.
    const twin = buildModel(spec, { seed: 11 });
    twin.ensureHead("b/c");
    assert.deepEqual(logitsOf(twin, x, "b/c"), logitsB);
    tf.dispose(x);
    model.dispose();
    twin.dispose();
  });
});

test("single-head: ensureHead is a no-op and every task id shares the head", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel(mlp({ inputShape: [3], hidden: [], classes: 2 }), { seed: 2 });
    assert.equal(model.numParameters(), 3 * 2 + 2);
    model.ensureHead("task-1");
    assert.deepEqual(model.taskIds(), [DEFAULT_TASK_ID]);
    assert.equal(model.numParameters(), 8);
    const x = tf.ones([2, 3]);
    assert.deepEqual(logitsOf(model, x, "task-1"), logitsOf(model, x));
    assert.equal(model.trainableVariables("anything").length, 2);
    tf.dispose(x);
    model.dispose();
  });
});

test("reinitialize(seed) on a spec model: in place, equal to a fresh build with that seed, moving stats reset", async () => {
  await expectNoTensorLeak(() => {
    const spec = mlp({ inputShape: [6], hidden: [5], classes: 3, batchNorm: true, multiHead: true });
    const model = buildModel(spec, { seed: 1 });
    model.ensureHead("t0");
    const variables = model.trainableVariables("t0");
    const original = weightsOf(model);
    // A training-mode pass moves the batch-norm moving statistics away from 0 and 1.
    const x = tf.randomNormal([16, 6], 3, 2, "float32", 5);
    model.getLogits(x, "t0", true).dispose();
    const moved = weightsOf(model);
    const movingMeanIndex = 4; // kernel, bias, gamma, beta, moving_mean, moving_variance, then the head
    assert.ok(moved[movingMeanIndex]!.some((v) => v !== 0));

    model.reinitialize(42);
    const fresh = weightsOf(model);
    assert.ok(fresh[0]!.some((v, i) => v !== original[0]![i]), "kernel must change");
    assert.deepEqual([...fresh[movingMeanIndex]!], [0, 0, 0, 0, 0]);
    assert.deepEqual([...fresh[movingMeanIndex + 1]!], [1, 1, 1, 1, 1]);
    // Same objects: the caller's variables now hold the new values.
    assert.deepEqual(model.trainableVariables("t0"), variables);
    assert.deepEqual(Float32Array.from(variables[0]!.dataSync()), fresh[0]);
    assert.equal(model.seed, 42);

    const reference = buildModel(spec, { seed: 42 });
    reference.ensureHead("t0");
    assert.ok(sameValues(weightsOf(reference), fresh), "reinitialize(s) == build(spec, s)");
    model.reinitialize(42);
    assert.ok(sameValues(weightsOf(model), fresh));
    tf.dispose(x);
    model.dispose();
    reference.dispose();
  });
});

test("cloneFresh: same architecture and heads, fresh weights, deterministic per seed", async () => {
  await expectNoTensorLeak(() => {
    const spec = mlp({ inputShape: [4], hidden: [6], classes: 2, multiHead: true });
    const model = buildModel(spec, { seed: 1 });
    model.ensureHead("x");
    model.ensureHead("y");
    const a = model.cloneFresh(9);
    const b = model.cloneFresh(9);
    const c = model.cloneFresh(10);
    assert.deepEqual(a.taskIds(), ["x", "y"]);
    assert.equal(a.numParameters(), model.numParameters());
    assert.deepEqual(a.spec, spec);
    assert.ok(sameValues(weightsOf(a), weightsOf(b)));
    assert.ok(!sameValues(weightsOf(a), weightsOf(model)));
    assert.ok(!sameValues(weightsOf(a), weightsOf(c)));
    // Independent weights: re-initialising the clone leaves the original alone.
    const original = weightsOf(model);
    a.reinitialize(77);
    assert.ok(sameValues(weightsOf(model), original));
    for (const m of [model, a, b, c]) m.dispose();
  });
});

test("setDropoutSeed: a seed fixes the mask, another seed changes it; inference ignores dropout", async () => {
  await expectNoTensorLeak(() => {
    const input = tfl.input({ shape: [1000] });
    const output = tfl.layers.dropout({ rate: 0.5 }).apply(input) as tfl.SymbolicTensor;
    const model = ContinualModel.fromLayersModel(tfl.model({ inputs: input, outputs: output }));
    const x = tf.ones([1, 1000]);
    model.setDropoutSeed(1);
    const first = logitsOf(model, x, undefined, true);
    const again = logitsOf(model, x, undefined, true);
    model.setDropoutSeed(2);
    const other = logitsOf(model, x, undefined, true);
    model.setDropoutSeed(1);
    const repeated = logitsOf(model, x, undefined, true);
    // Kept units are scaled by 1 / (1 - rate) = 2; about half are dropped.
    assert.ok(first.every((v) => v === 0 || v === 2));
    const kept = first.filter((v) => v === 2).length;
    assert.ok(kept > 430 && kept < 570, `kept ${kept}`);
    assert.deepEqual(again, first);
    assert.deepEqual(repeated, first);
    assert.ok(other.some((v, i) => v !== first[i]));
    assert.ok(logitsOf(model, x).every((v) => v === 1));
    assert.deepEqual(model.unseedableRandomLayers(), []);
    tf.dispose(x);
    model.dispose();
  });
});

test("setDropoutSeed seeds every dropout layer of a spec model, each with its own mask", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel(mlp({ inputShape: [20], hidden: [50, 50], classes: 4, dropout: 0.5 }), { seed: 4 });
    const x = tf.ones([3, 20]);
    model.setDropoutSeed(100);
    const a = logitsOf(model, x, undefined, true);
    model.setDropoutSeed(100);
    assert.deepEqual(logitsOf(model, x, undefined, true), a);
    model.setDropoutSeed(101);
    assert.ok(logitsOf(model, x, undefined, true).some((v, i) => v !== a[i]));
    tf.dispose(x);
    model.dispose();
  });
});

test("layers that draw unseedable randomness are reported", async () => {
  await expectNoTensorLeak(() => {
    const model = ContinualModel.fromLayersModel(
      tfl.sequential({ layers: [tfl.layers.gaussianNoise({ stddev: 0.1, inputShape: [3], name: "noisy" }), tfl.layers.dense({ units: 2 })] }),
    );
    assert.deepEqual(model.unseedableRandomLayers(), ["noisy"]);
    model.dispose();
  });
});

test("snapshotWeights / restoreWeights bring back the exact weights; a mismatched snapshot is a ModelError", async () => {
  await expectNoTensorLeak(() => {
    const model = buildModel(mlp({ inputShape: [4], hidden: [3], classes: 2, batchNorm: true }), { seed: 1 });
    const snapshot = model.snapshotWeights();
    const saved = valuesOf(snapshot);
    model.reinitialize(2);
    assert.ok(!sameValues(weightsOf(model), saved));
    model.restoreWeights(snapshot);
    assert.ok(sameValues(weightsOf(model), saved));
    assert.throws(() => model.restoreWeights(snapshot.slice(1)), { name: "ModelError", message: /snapshot has 7 tensors but the model has 8 weights/ });
    const reversed = [...snapshot].reverse();
    assert.throws(() => model.restoreWeights(reversed), { name: "ModelError", message: /shape/ });
    tf.dispose(snapshot);
    model.dispose();
    const x = tf.ones([1, 4]);
    assert.throws(() => model.getLogits(x), { name: "ModelError", message: /disposed/ });
    x.dispose();
  });
});

test("cpu and wasm agree: same initial weights bit for bit, logits within 1e-5", async () => {
  const spec = cnn({ inputShape: [6, 6, 2], conv: [{ filters: 3, kernelSize: 3, pool: true }], dense: [5], classes: 4, batchNorm: true, activation: "tanh" });
  const run = async (backend: "cpu" | "wasm") => {
    await useBackend(backend);
    return expectNoTensorLeak(() => {
      const model = buildModel(spec, { seed: 21 });
      const x = tf.randomNormal([3, 6, 6, 2], 0, 1, "float32", 2);
      const result = { weights: weightsOf(model), logits: logitsOf(model, x), train: logitsOf(model, x, undefined, true) };
      tf.dispose(x);
      model.dispose();
      return result;
    });
  };
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  assert.ok(sameValues(cpu.weights, wasm.weights));
  for (const key of ["logits", "train"] as const) {
    cpu[key].forEach((v, i) => assert.ok(Math.abs(v - wasm[key][i]!) < 1e-5, `${key}[${i}]: ${v} vs ${wasm[key][i]}`));
  }
});
