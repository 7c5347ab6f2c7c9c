/**
 * _FusedMatMul (matmul + bias + activation, what tfjs-layers' Dense runs
 * forward) for the wasm backend, with transposes and batches on the fast
 * path. Bias and activation stay with the stock kernel, applied to each
 * plain 2-D call: a rank-1 bias and a per-column (or scalar) PReLU weight
 * apply row by row, so splitting the rows or batches does not change them.
 */
import * as tf from "@tensorflow/tfjs-core";
import { batchOf, isEmpty } from "./batch_mat_mul.js";
import { matMulOnFastPath } from "./fast_matmul.js";
import { stockKernel, type KernelArgs, type WasmBackend } from "./wasm_heap.js";

interface FusedAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

/** The override's kernel function. */
export function fusedMatMulOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b, bias, preluActivationWeights } = args.inputs as {
    a: tf.TensorInfo;
    b: tf.TensorInfo;
    bias?: tf.TensorInfo | null;
    preluActivationWeights?: tf.TensorInfo | null;
  };
  const attrs = (args.attrs ?? {}) as FusedAttrs;
  const fused = stockKernel(tf._FusedMatMul);
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const n = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
  const preluSize = preluActivationWeights == null ? 1 : tf.util.sizeFromShape(preluActivationWeights.shape);
  const plainAlready = !transposeA && !transposeB && batchOf(a) === 1 && batchOf(b) === 1;
  if (
    plainAlready ||
    a.dtype !== "float32" ||
    b.dtype !== "float32" ||
    isEmpty(a) ||
    isEmpty(b) ||
    (preluSize !== 1 && preluSize !== n)
  ) {
    return fused(backend, args.inputs, args.attrs);
  }
  const inputsBesides: tf.NamedTensorInfoMap = {};
  if (bias != null) inputsBesides["bias"] = bias;
  if (preluActivationWeights != null) inputsBesides["preluActivationWeights"] = preluActivationWeights;
  const plainAttrs = { ...attrs, transposeA: false, transposeB: false };
  return matMulOnFastPath(backend, a, b, transposeA, transposeB, (a2, b2) =>
    fused(backend, { a: a2, b: b2, ...inputsBesides }, plainAttrs),
  );
}
