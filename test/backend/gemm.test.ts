// relearn's GEMM (wasm_kernels/gemm.wat) against XNNPACK, tfjs's own matmul:
// the same products bit for bit (zeros of both signs, infinities, NaN and
// overflow included), on whole tiles and ragged edges; and the BatchMatMul
// override, which uses it on one XNNPACK thread for every transpose flag,
// against the XNNPACK path it replaces.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { release, stockKernel, type WasmBackend } from "../../src/backend/wasm_kernels/wasm_heap.js";
import { gemm, xnnpackSingleThreaded } from "../../src/backend/wasm_kernels/gemm.js";
import { matMulOnFastPath, stockPlainMatMul } from "../../src/backend/wasm_kernels/fast_matmul.js";
import { batchMatMulOnFastPath } from "../../src/backend/wasm_kernels/batch_mat_mul.js";

/**
 * The bits of a wasm tensor's floats (a copy), every NaN as one pattern: which NaN an operation on NaNs returns is
 * up to the CPU (wasm leaves NaN payloads open). The tensor is released.
 */
function bitsOf(backend: WasmBackend, info: tf.TensorInfo): Uint32Array {
  const values = Float32Array.from(backend.readSync(info.dataId) as Float32Array, (v) => (Number.isNaN(v) ? NaN : v));
  release(backend, info);
  return new Uint32Array(values.buffer);
}

/** Random float32 values with zeros of both signs, and optionally infinities, NaN and huge values sprinkled in. */
function values(size: number, seed: number, special: boolean): Float32Array {
  const out = Float32Array.from(tf.randomNormal([size], 0, 1, "float32", seed).dataSync());
  for (let i = 3; i < size; i += 13) out[i] = i % 2 === 0 ? 0 : -0;
  if (special) {
    for (let i = 5; i < size; i += 37) out[i] = [Infinity, -Infinity, NaN, 3e38, -1e-40][i % 5]!;
  }
  return out;
}

test("gemm equals XNNPACK's product bit for bit, on every shape", async () => {
  await useBackend("wasm");
  const backend = tf.backend() as unknown as WasmBackend;
  const stock = stockKernel(tf.BatchMatMul);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 27 }), fc.boolean(), fc.integer({ min: 0, max: 1000 }), (m, k, n, special, seed) => {
      const a = tf.tensor3d(values(m * k, seed, special), [1, m, k]);
      const b = tf.tensor3d(values(k * n, seed + 1, special), [1, k, n]);
      try {
        const expected = bitsOf(backend, stock(backend, { a, b }, { transposeA: false, transposeB: false }));
        const actual = bitsOf(backend, gemm(backend, a, b, [1]));
        assert.deepEqual(actual, expected, `[${m}, ${k}] @ [${k}, ${n}]`);
      } finally {
        tf.dispose([a, b]);
      }
    }),
    { numRuns: 150 },
  );
  // The MLP's own shapes.
  for (const [m, k, n] of [[128, 784, 256], [32, 784, 256], [256, 128, 256], [128, 256, 10], [784, 32, 256]] as const) {
    const a = tf.tensor3d(values(m * k, m, false), [1, m, k]);
    const b = tf.tensor3d(values(k * n, n, false), [1, k, n]);
    assert.deepEqual(bitsOf(backend, gemm(backend, a, b, [1])), bitsOf(backend, stock(backend, { a, b }, {})), `[${m}, ${k}] @ [${k}, ${n}]`);
    tf.dispose([a, b]);
  }
});

test("on one XNNPACK thread the BatchMatMul override gives the XNNPACK path's products for every transpose flag", async () => {
  await useBackend("wasm");
  const backend = tf.backend() as unknown as WasmBackend;
  assert.ok(xnnpackSingleThreaded(backend), "the tests run wasm on one thread (scripts/run-tests.mjs)");
  // Shapes of a dense layer's products at batches 32 and 7, with a wide and a narrow layer (which transposes).
  for (const [m, k, n] of [[32, 40, 24], [7, 24, 10], [24, 7, 40], [10, 24, 7], [5, 3, 9]] as const) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const a = tf.tensor2d(values(m * k, m + k, true), transposeA ? [k, m] : [m, k]);
        const b = tf.tensor2d(values(k * n, k + n, true), transposeB ? [n, k] : [k, n]);
        const label = `[${a.shape}] @ [${b.shape}], transposeA ${transposeA}, transposeB ${transposeB}`;
        const expected = matMulOnFastPath(backend, a, b, transposeA, transposeB, stockPlainMatMul(backend), { mayFlip: true });
        const actual = batchMatMulOnFastPath({ inputs: { a, b }, backend, attrs: { transposeA, transposeB } });
        assert.deepEqual(actual.shape, [m, n], label);
        assert.deepEqual(bitsOf(backend, actual), bitsOf(backend, expected), label);
        tf.dispose([a, b]);
      }
    }
  }
});
