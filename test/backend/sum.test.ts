// relearn's wasm Sum override (wasm_kernels/sum.ts) against the stock wasm
// Sum kernel: the same values bit for bit, on the reductions it takes over
// (leading axes: bias gradients) and on those it leaves to the stock kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../helpers/backend.js";
import { stockKernel, type WasmBackend } from "../../src/backend/wasm_kernels/wasm_heap.js";
import { sumOnFastPath } from "../../src/backend/wasm_kernels/sum.js";

test("the Sum override equals the stock wasm Sum bit for bit", async () => {
  await useBackend("wasm");
  const backend = tf.backend() as unknown as WasmBackend;
  const cases: Array<{ shape: number[]; axis: number | number[] | null; keepDims?: boolean; dtype?: "float32" | "int32" }> = [
    { shape: [32, 256], axis: [0] },
    { shape: [33, 7], axis: 0, keepDims: true },
    { shape: [4, 5, 6, 3], axis: [0, 1, 2] },
    { shape: [4, 5, 6, 3], axis: [0, 1, 2], keepDims: true },
    { shape: [4, 5, 6, 3], axis: [2, 0, 1], keepDims: true },
    { shape: [4, 5, 6, 3], axis: [1, 0] },
    { shape: [4, 5, 6], axis: [0, 1] },
    { shape: [1, 9], axis: [0] },
    { shape: [9, 1], axis: [0] },
    { shape: [6, 5], axis: [1] },
    { shape: [6, 5], axis: null },
    { shape: [4, 5, 6], axis: [1] },
    { shape: [8, 3], axis: [0], dtype: "int32" },
  ];
  for (const { shape, axis, keepDims = false, dtype = "float32" } of cases) {
    const x = dtype === "int32" ? tf.randomUniform(shape, -50, 50, "int32", 3) : tf.randomNormal(shape, 0, 1, "float32", 3);
    const attrs = { axis, keepDims } as unknown as tf.NamedAttrMap;
    const stock = tf.engine().makeTensorFromTensorInfo(stockKernel(tf.Sum)(backend, { x }, attrs));
    const ours = tf.engine().makeTensorFromTensorInfo(sumOnFastPath({ inputs: { x }, backend, attrs }));
    const label = `${JSON.stringify(shape)} over ${JSON.stringify(axis)}${keepDims ? ", keepDims" : ""}`;
    assert.deepEqual(ours.shape, stock.shape, label);
    assert.deepEqual(ours.dataSync(), stock.dataSync(), label);
    tf.dispose([x, stock, ours]);
  }
});
