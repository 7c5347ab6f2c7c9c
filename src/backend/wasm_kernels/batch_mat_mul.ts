/**
 * BatchMatMul for the wasm backend: every transpose flag and batch size on
 * the fast (XNNPACK) path. Backprop through a dense layer calls
 * `matMul(dy, w, false, true)` and `matMul(x, dy, true, false)`, which the
 * stock kernel runs in a scalar loop.
 */
import * as tf from "@tensorflow/tfjs-core";
import { isPackedRightOperand, matMulOnFastPath, offeredBefore, stockPlainMatMul } from "./fast_matmul.js";
import { gemm, lastTwoAxes, singleMatrix, xnnpackSingleThreaded } from "./gemm.js";
import { swapLastTwoAxes } from "./transpose_2d.js";
import { release, stockKernel, type KernelArgs, type WasmBackend } from "./wasm_heap.js";

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
  // One product of a new right operand on one thread: relearn's GEMM, which needs no packing (gemm.ts).
  if (singleMatrix(a) && singleMatrix(b) && xnnpackSingleThreaded(backend)) return productByGemm(backend, a, b, transposeA === true, transposeB === true);
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

/**
 * op(a) @ op(b) for single matrices by gemm.wat, which wants both operands
 * row-major and untransposed: a transposed a is copied transposed (SIMD
 * transpose, one pass); a transposed b either the same way, or the product
 * is computed as (b @ op(a)^T)^T, whichever moves fewer values (the flip
 * moves op(a)^T, unless it is a itself, and the m x n result).
 */
function productByGemm(backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): tf.TensorInfo {
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const [aRows, aColumns] = lastTwoAxes(a);
  const [bRows, bColumns] = lastTwoAxes(b);
  const [m, k] = transposeA ? [aColumns, aRows] : [aRows, aColumns];
  const n = transposeB ? bRows : bColumns;
  if ((transposeB ? bColumns : bRows) !== k) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${transposeB ? bColumns : bRows}) of Tensors with shapes ${a.shape} and ` +
        `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const temporaries: tf.TensorInfo[] = [];
  const transposed = (x: tf.TensorInfo): tf.TensorInfo => {
    const t = swapLastTwoAxes(backend, x);
    temporaries.push(t);
    return t;
  };
  try {
    const flip = transposeB && (transposeA ? 0 : m * k) + m * n < (transposeA ? m * k : 0) + k * n;
    if (!flip) return gemm(backend, transposeA ? transposed(a) : a, transposeB ? transposed(b) : b, outer);
    // op(b)^T is b itself; op(a)^T is a when a was to be transposed.
    const productT = gemm(backend, b, transposeA ? a : transposed(a), outer);
    temporaries.push(productT);
    return swapLastTwoAxes(backend, productT);
  } finally {
    release(backend, ...temporaries);
  }
}
