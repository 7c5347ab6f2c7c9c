// The fused conv bias + ReLU + 2x2 max-pool kernels (backend/bias_relu_pool_kernels.ts) against the cpu
// backend's maxPool(relu(conv + bias)) and its gradients (relative error <= 1e-5), ties and zeros included.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import "../../src/backend/gradients.js";
import { expectNoTensorLeak, useBackend } from "../helpers/backend.js";
import { biasReluPoolFits, hasBiasReluPoolKernels } from "../../src/backend/bias_relu_pool_kernels.js";
import { convBiasReluPool } from "../../src/model/conv_bias_relu.js";

/** Output, dConv and dBias of a weighted sum of the pooled output, on `backend`. */
async function pooledAndGrads(backend: "wasm" | "cpu", conv: Float32Array, bias: Float32Array, shape: number[], weights: Float32Array): Promise<Float32Array[]> {
  await useBackend(backend);
  return tf.tidy(() => {
    const c = tf.tensor(conv, shape);
    const b = tf.tensor1d(bias);
    const forward = (x: tf.Tensor, y: tf.Tensor): tf.Tensor =>
      backend === "wasm" ? convBiasReluPool(x, y) : tf.maxPool(tf.relu(tf.add(x, y)) as tf.Tensor4D, 2, 2, "valid");
    const out = forward(c, b);
    const [dConv, dBias] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(forward(x, y), tf.tensor(weights, out.shape))))([c, b]);
    return [out, dConv!, dBias!].map((t) => Float32Array.from(t.dataSync()));
  });
}

function close(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const scale = Math.max(1e-3, ...Array.from(expected, Math.abs));
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5 * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test("wasm: RelearnBiasReluPool and its gradient agree with cpu's maxPool(relu(conv + bias)) (property over shapes, ties, zeros)", async () => {
  await useBackend("wasm");
  assert.ok(hasBiasReluPoolKernels());
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        batch: fc.integer({ min: 1, max: 3 }),
        height: fc.integer({ min: 1, max: 5 }).map((h) => 2 * h),
        width: fc.integer({ min: 1, max: 5 }).map((w) => 2 * w),
        channels: fc.constantFrom(4, 8, 12, 32),
        // Coarse values make ties inside windows and pre-activations of exactly zero common.
        coarse: fc.boolean(),
        seed: fc.integer({ min: 0, max: 10_000 }),
      }),
      async ({ batch, height, width, channels, coarse, seed }) => {
        const shape = [batch, height, width, channels];
        const round = (values: Float32Array): Float32Array => (coarse ? values.map((v) => Math.round(v * 2) / 2) : values);
        const conv = round(tf.randomNormal(shape, 0, 1, "float32", seed).dataSync() as Float32Array);
        const bias = round(tf.randomNormal([channels], 0, 0.5, "float32", seed + 1).dataSync() as Float32Array);
        const weights = tf.randomNormal([batch, height / 2, width / 2, channels], 0, 1, "float32", seed + 2).dataSync() as Float32Array;
        const cpu = await pooledAndGrads("cpu", conv, bias, shape, weights);
        const wasm = await expectNoTensorLeak(() => pooledAndGrads("wasm", conv, bias, shape, weights));
        for (const [i, what] of ["pooled", "dConv", "dBias"].entries()) close(wasm[i]!, cpu[i]!, `${what} [${shape}] coarse ${coarse}`);
      },
    ),
    { numRuns: 60 },
  );
});

test("maps the fused kernels do not take (odd sides, channels not a multiple of 4) fall back to the unfused ops on wasm", async () => {
  assert.equal(biasReluPoolFits([2, 5, 4, 8]), false);
  assert.equal(biasReluPoolFits([2, 4, 4, 6]), false);
  assert.equal(biasReluPoolFits([2, 4, 4, 8]), true);
  for (const shape of [[2, 5, 4, 8], [1, 4, 6, 6]]) {
    const conv = tf.randomNormal(shape, 0, 1, "float32", 4).dataSync() as Float32Array;
    const bias = tf.randomNormal([shape[3]!], 0, 0.5, "float32", 5).dataSync() as Float32Array;
    const pooledShape = [shape[0]!, Math.floor(shape[1]! / 2), Math.floor(shape[2]! / 2), shape[3]!];
    const weights = tf.randomNormal(pooledShape, 0, 1, "float32", 6).dataSync() as Float32Array;
    const cpu = await pooledAndGrads("cpu", conv, bias, shape, weights);
    const wasm = await pooledAndGrads("wasm", conv, bias, shape, weights);
    for (const [i, what] of ["pooled", "dConv", "dBias"].entries()) close(wasm[i]!, cpu[i]!, `${what} [${shape}]`);
  }
});
