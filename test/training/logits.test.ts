import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { makeGaussianBlobs } from "../../src/data/synthetic.js";
import { buildModel } from "../../src/model/continual_model.js";
import { mlp } from "../../src/model/spec.js";
import { extractLogits } from "../../src/training/logits.js";

before(async () => {
  await useBackend("wasm");
});

const data = makeGaussianBlobs({ numClasses: 3, samplesPerClass: 7, dims: 5, seed: 2 }); // 21 items: last batch short

test("extractLogits: (N, C) in dataset order, batched, inference mode (dropout off), no leaks", () => {
  const model = buildModel(mlp({ inputShape: [5], hidden: [8], classes: 3, dropout: 0.5 }), { seed: 0 });
  extractLogits(model, data, 4).dispose(); // warm-up: tfjs-layers caches a few constant scalars on first use
  const before = tf.memory().numTensors;
  const a = extractLogits(model, data, 4);
  const b = extractLogits(model, data, 32);
  assert.deepEqual(a.shape, [21, 3]);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()), "batch size and dropout do not change the result");
  const x = tf.tensor2d(data.features, [21, 5]);
  const direct = model.getLogits(x, "default_task", false);
  const maxDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(direct, a))).dataSync()[0]!);
  assert.ok(maxDiff < 1e-5, `row order matches a direct pass (max diff ${maxDiff})`);
  tf.dispose([a, b, x, direct]);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test("extractLogits feeds items through the given (test) transform", () => {
  const model = buildModel(mlp({ inputShape: [5], hidden: [8], classes: 3 }), { seed: 0 });
  const zeros = extractLogits(model, data, 8, "default_task", { transform: (s) => new Float32Array(s.length) });
  const rows = zeros.arraySync() as number[][];
  assert.ok(rows.every((r) => r.every((v, j) => Math.abs(v - rows[0]![j]!) < 1e-6)), "every transformed item is zero, so every row is equal");
  zeros.dispose();
  assert.throws(() => extractLogits(model, data, 0), /batchSize/);
  model.dispose();
});
