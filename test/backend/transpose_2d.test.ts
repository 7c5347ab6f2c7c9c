// relearn's SIMD transpose (wasm_kernels/transpose.wat) against tfjs's own
// Transpose kernel: the same values, bit for bit, for block-sized and ragged
// shapes, with and without batch axes.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { stockKernel, type WasmBackend } from "../../src/backend/wasm_kernels/wasm_heap.js";
import { swapLastTwoAxes } from "../../src/backend/wasm_kernels/transpose_2d.js";

test("swapLastTwoAxes equals the stock wasm Transpose on every shape", async () => {
  await useBackend("wasm");
  const backend = tf.backend() as unknown as WasmBackend;
  const shapes = [[1, 1], [1, 7], [7, 1], [3, 5], [4, 4], [8, 12], [7, 9], [32, 784], [2, 5, 6], [3, 8, 4], [2, 1, 13, 6]];
  for (const shape of shapes) {
    const x = tf.randomUniform(shape, -1, 1, "float32", 7);
    const rank = shape.length;
    const perm = [...shape.keys()];
    [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
    const stock = tf.engine().makeTensorFromTensorInfo(stockKernel(tf.Transpose)(backend, { x }, { perm }));
    const ours = tf.engine().makeTensorFromTensorInfo(swapLastTwoAxes(backend, x));
    assert.deepEqual(ours.shape, stock.shape, `shape of ${shape}`);
    assert.deepEqual(ours.dataSync(), stock.dataSync(), `values of ${shape}`);
    tf.dispose([x, stock, ours]);
  }
});
