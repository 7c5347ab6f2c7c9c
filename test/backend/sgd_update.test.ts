// The fused plain-SGD update (wasm_kernels/sgd_update.wat) against what
// tf.train.sgd computes, add(mul(-lr, grad), value): the same bits (NaN
// payloads aside), on whole SIMD blocks and ragged tails; and through
// TrainingOptimizer against tf.train.sgd with a learning-rate change.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { release, type WasmBackend } from "../../src/backend/wasm_kernels/wasm_heap.js";
import { sgdUpdate } from "../../src/backend/wasm_kernels/sgd_update.js";
import { TrainingOptimizer } from "../../src/training/optimizers.js";

/** Bits of float32 values, every NaN as one pattern (wasm leaves NaN payloads open). */
function bits(values: Float32Array | Int32Array | Uint8Array): Uint32Array {
  return new Uint32Array(Float32Array.from(values as Float32Array, (v) => (Number.isNaN(v) ? NaN : v)).buffer);
}

function values(size: number, seed: number): Float32Array {
  const out = Float32Array.from(tf.randomNormal([size], 0, 1, "float32", seed).dataSync());
  for (let i = 1; i < size; i += 9) out[i] = [0, -0, Infinity, -Infinity, NaN, 1e-40, -3e38, 3e38][i % 8]!;
  return out;
}

test("sgdUpdate equals tf.train.sgd's add(mul(-lr, grad), value) bit for bit", async () => {
  await useBackend("wasm");
  const backend = tf.backend() as unknown as WasmBackend;
  for (const size of [1, 3, 4, 5, 8, 13, 256, 1003]) {
    for (const lr of [0.01, 0.1, 1e-7, 3]) {
      const value = tf.tensor1d(values(size, size));
      const grad = tf.tensor1d(values(size, size + 1));
      const expected = tf.add(tf.mul(tf.scalar(-lr), grad), value);
      const out = sgdUpdate(backend, value, grad, lr);
      const actual = Float32Array.from(backend.readSync(out.dataId) as Float32Array);
      release(backend, out);
      assert.deepEqual(bits(actual), bits(expected.dataSync()), `size ${size}, lr ${lr}`);
      tf.dispose([value, grad, expected]);
    }
  }
});

test("plain SGD through TrainingOptimizer gives tf.train.sgd's weights bit for bit, across a learning-rate change", async () => {
  await useBackend("wasm");
  const start = [tf.randomNormal([37, 5], 0, 1, "float32", 1), tf.randomNormal([5], 0, 1, "float32", 2)];
  const ours = start.map((t, i) => tf.variable(t.clone(), true, `fused_sgd_test_ours_${i}`));
  const theirs = start.map((t, i) => tf.variable(t.clone(), true, `fused_sgd_test_theirs_${i}`));
  const optimizer = new TrainingOptimizer({ name: "sgd", learningRate: 0.05 });
  const reference = tf.train.sgd(0.05);
  for (let step = 0; step < 4; step++) {
    if (step === 2) {
      optimizer.setLearningRate(0.013);
      reference.setLearningRate(0.013);
    }
    const grads = start.map((t, i) => tf.randomNormal(t.shape, 0, 1, "float32", 10 * step + i));
    optimizer.step(Object.fromEntries(ours.map((v, i) => [v.name, grads[i]!])), ours);
    reference.applyGradients(Object.fromEntries(theirs.map((v, i) => [v.name, grads[i]!])));
    tf.dispose(grads);
  }
  for (let i = 0; i < ours.length; i++) assert.deepEqual(bits(ours[i]!.dataSync() as Float32Array), bits(theirs[i]!.dataSync() as Float32Array));
  optimizer.dispose();
  reference.dispose();
  tf.dispose([...start, ...ours, ...theirs]);
});
