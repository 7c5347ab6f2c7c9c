/**
 * BatchMatMul for the wasm backend: every transpose flag and batch size on
 * the fast (XNNPACK) path. Backprop through a dense layer calls
 * `matMul(dy, w, false, true)` and `matMul(x, dy, true, false)`, which the
 * stock kernel runs in a scalar loop.
 */
import * as tf from "@tensorflow/tfjs-core";
import { isPackedRightOperand, matMulOnFastPath, offeredBefore, stockPlainMatMul } from "./fast_matmul.js";
import { stockKernel, type KernelArgs, type WasmBackend } from "./wasm_heap.js";

/** The override's kernel function. */
export function batchMatMulOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
  // A plain product may be cheaper flipped (fast_matmul.ts), but only the
  // first time its right operand is seen: one that comes back is packed once
  // and kept by XNNPACK, which beats any flip.
  const plain = !transposeA && !transposeB && batchOf(a) === 1 && batchOf(b) === 1;
  const plainAndKept = plain && (isPackedRightOperand(b) || offeredBefore(b));
  if (plainAndKept || a.dtype !== "float32" || b.dtype !== "float32" || isEmpty(a) || isEmpty(b)) {
    return stockKernel(tf.BatchMatMul)(backend, args.inputs, args.attrs);
  }
  return matMulOnFastPath(backend, a, b, transposeA === true, transposeB === true, stockPlainMatMul(backend), { mayFlip: true });
}

/** Product of the batch dims (all but the last two). */
export function batchOf(x: tf.TensorInfo): number {
  return tf.util.sizeFromShape(x.shape.slice(0, -2));
}

/** True when the tensor has no elements (left to the stock kernel). */
export function isEmpty(x: tf.TensorInfo): boolean {
  return tf.util.sizeFromShape(x.shape) === 0;
}
