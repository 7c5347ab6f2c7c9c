// The fused bias + ReLU kernels of the whole-step path (backend/dense_relu_kernels.ts)
// against the kernels they replace (Add then Relu; Step, Multiply and Sum over the
// rows, relearn's Sum override included): the same values bit for bit on wasm.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { BIAS_RELU, RELU_BIAS_GRAD, hasDenseReluKernels } from "../../src/backend/dense_relu_kernels.js";
import { KernelCalls } from "../../src/training/kernel_calls.js";

/** Bitwise equality of two float32 tensors (tells -0 from +0), NaN equal to NaN whatever its payload. */
function assertSameBits(actual: tf.Tensor, expected: tf.Tensor, label: string): void {
  assert.deepEqual(actual.shape, expected.shape, label);
  const a = Float32Array.from(actual.dataSync());
  const b = Float32Array.from(expected.dataSync());
  const aBits = new Uint32Array(a.buffer);
  const bBits = new Uint32Array(b.buffer);
  for (let i = 0; i < a.length; i++) {
    const same = Number.isNaN(a[i]) ? Number.isNaN(b[i]) : aBits[i] === bBits[i];
    assert.ok(same, `${label}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

const shapes: Array<[number, number]> = [[32, 256], [16, 10], [128, 256], [1, 7], [5, 3], [3, 13]];

test("wasm: RelearnBiasRelu and RelearnReluBiasGrad equal the unfused kernels bit for bit", async () => {
  await useBackend("wasm");
  assert.ok(hasDenseReluKernels());
  for (const [rows, units] of shapes) {
    const label = `[${rows}, ${units}]`;
    // The first unit's bias is -0, so x = -0 there gives the pre-activation -0.
    const biasValues = tf.randomNormal([units], 0, 0.5, "float32", 1).dataSync().slice();
    biasValues[0] = -0;
    const bias = tf.tensor1d(biasValues);
    // Some pre-activations exactly zero (x = -bias), some x = 0, some -0, some NaN (a diverged step: it must go
    // through, the loop fails the phase on a NaN loss), the rest random.
    const xValues = tf.randomNormal([rows, units], 0, 1, "float32", 2).dataSync().slice();
    for (let i = 0; i < xValues.length; i += 5) xValues[i] = -biasValues[i % units]!;
    for (let i = 2; i < xValues.length; i += 7) xValues[i] = 0;
    for (let r = 0; r < rows; r += 2) xValues[r * units] = -0;
    for (let i = 3; i < xValues.length; i += 11) xValues[i] = NaN;
    const x = tf.tensor2d(xValues, [rows, units]);
    // The upstream gradient with zeros of both signs and tiny values.
    const dyValues = tf.randomNormal([rows, units], 0, 1e-3, "float32", 3).dataSync().slice();
    for (let i = 1; i < dyValues.length; i += 6) dyValues[i] = i % 12 === 1 ? -0 : 0;
    const dy = tf.tensor2d(dyValues, [rows, units]);

    const pre = tf.add(x, bias);
    const y = tf.relu(pre);
    const dx = tf.mul(dy, tf.step(pre));
    const dBias = tf.sum(dx, [0]);

    const k = new KernelCalls();
    const fusedY = k.keep<tf.Tensor2D>(k.run(BIAS_RELU, { x, bias }));
    const [fusedDx, fusedDBias] = k.runAll(RELU_BIAS_GRAD, { dy, y: fusedY });
    const keptDx = k.keep(fusedDx!);
    const keptDBias = k.keep(fusedDBias!);
    k.releaseAll();
    assertSameBits(fusedY, y, `${label} relu(x + bias)`);
    assertSameBits(keptDx, dx, `${label} gradient through the ReLU`);
    assertSameBits(keptDBias, dBias, `${label} bias gradient`);
    tf.dispose([bias, x, dy, pre, y, dx, dBias, fusedY, keptDx, keptDBias]);
  }
});

test("the fused kernels check their inputs and exist on wasm only", async () => {
  await useBackend("wasm");
  const k = new KernelCalls();
  const x = tf.zeros([4, 3]);
  assert.throws(() => k.run(BIAS_RELU, { x, bias: tf.zeros([4]) }), /bias must be float32 \[3\]/);
  assert.throws(() => k.runAll(RELU_BIAS_GRAD, { dy: x, y: tf.zeros([3, 4]) }), /both matrices/);
  k.releaseAll();
  tf.dispose(x);
  await useBackend("cpu");
  assert.ok(!hasDenseReluKernels());
});
