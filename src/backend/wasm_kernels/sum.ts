/**
 * Sum for the wasm backend, when it reduces leading axes (a bias gradient:
 * [batch, units] over the batch; a convolution's: [batch, h, w, channels]
 * over all but the channels): the stock kernel first moves the reduced axes
 * innermost with tfjs's Transpose, one value per iteration; here the input,
 * seen as a [reduced, kept] matrix, is transposed by relearn's SIMD
 * transpose (transpose_2d.ts) instead. The stock kernel then sums exactly
 * the same values in the same layout and order, so the result is the same
 * bit for bit. Every other reduction goes to the stock kernel.
 */
import * as tf from "@tensorflow/tfjs-core";
import { swapLastTwoAxes } from "./transpose_2d.js";
import { release, stockKernel, view, type KernelArgs, type WasmBackend } from "./wasm_heap.js";

/** The override's kernel function. */
export function sumOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = (args.attrs ?? {}) as { axis?: number | number[] | null; keepDims?: boolean };
  const sum = stockKernel(tf.Sum);
  const axes = axis == null ? [...x.shape.keys()] : tf.util.parseAxisParam(axis, x.shape);
  const reduced = axes.length;
  // In this order: the stock kernel moves the reduced axes innermost in the order given, which sets the summing order.
  const leading = axes.every((a, i) => a === i);
  const lead = tf.util.sizeFromShape(x.shape.slice(0, reduced));
  const kept = x.shape.slice(reduced);
  const rest = tf.util.sizeFromShape(kept);
  // Leading axes only, not all of them, and a real transpose (a size-1 side would be a no-op the stock kernel handles).
  if (x.dtype !== "float32" || !leading || reduced === 0 || reduced === x.shape.length || lead <= 1 || rest <= 1) {
    return sum(backend, args.inputs, args.attrs);
  }
  const transposed = swapLastTwoAxes(backend, view(x, [lead, rest]));
  try {
    const summed = sum(backend, { x: transposed }, { axis: [1], keepDims: false });
    return view(summed, keepDims === true ? tf.backend_util.expandShapeToKeepDim(kept, axes) : kept);
  } finally {
    release(backend, transposed);
  }
}
