/**
 * Conv2DBackpropFilter (the weight gradient of conv2d) for the wasm backend,
 * which has no such kernel: without it no CNN trains on wasm.
 *
 * dW[fy, fx, ci, co] = sum over samples and output pixels of
 * x[n, oy*sh - top + fy, ox*sw - left + fx, ci] * dy[n, oy, ox, co].
 * With the patches of x as rows (im2col: one row per output pixel, columns
 * ordered (fy, fx, ci) like the filter) that is patches^T @ dy, whose
 * [fy*fx*ci, co] layout is the filter's. The patch matrix is written already
 * transposed and kept as the LEFT operand: XNNPACK repacks its right operand
 * on every call, which costs about 4x a transpose pass per element, and dy is
 * the narrower of the two (measured: about 2x faster than dy^T @ patches on a
 * 14x14x32 -> 64 layer; writing the transpose directly saves a further wasm
 * Transpose pass, ~25 ms there). Samples go in chunks so the patch matrix
 * stays a few tens of MB.
 */
import * as tf from "@tensorflow/tfjs-core";
import { BackendError } from "../../errors.js";
import { copyRange, floatsOf, heapOf, release, stockKernel, view, type KernelArgs, type WasmBackend, type WindowAttrs } from "./wasm_heap.js";

/** Floats of the patch matrix per chunk (32 MB): large enough for long matmuls, small for the heap. */
const PATCH_FLOATS_PER_CHUNK = 8 * 1024 * 1024;

interface BackpropFilterAttrs extends WindowAttrs {
  dataFormat?: "NHWC" | "NCHW";
  filterShape: [number, number, number, number];
}

/** The override's kernel function. */
export function conv2DBackpropFilterOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as BackpropFilterAttrs;
  if (attrs.dataFormat === "NCHW") {
    throw new BackendError('Conv2DBackpropFilter on wasm supports dataFormat "NHWC" only; got "NCHW"');
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const patchWidth = info.filterHeight * info.filterWidth * info.inChannels;
  const pixelsPerSample = info.outHeight * info.outWidth;
  const samplesPerChunk = Math.max(1, Math.floor(PATCH_FLOATS_PER_CHUNK / (pixelsPerSample * patchWidth)));
  const matMul = stockKernel(tf.BatchMatMul);
  let total: tf.TensorInfo | undefined;
  for (let first = 0; first < info.batchSize; first += samplesPerChunk) {
    const count = Math.min(samplesPerChunk, info.batchSize - first);
    const rows = count * pixelsPerSample;
    const patchesT = backend.makeOutput([patchWidth, rows], "float32");
    writePatchesTransposed(backend, x, patchesT, info, first, count);
    const dyRows =
      count === info.batchSize
        ? view(dy, [1, rows, info.outChannels])
        : copyRange(backend, dy, first * pixelsPerSample * info.outChannels, [1, rows, info.outChannels]);
    const product = matMul(backend, { a: view(patchesT, [1, patchWidth, rows]), b: dyRows }, { transposeA: false, transposeB: false });
    release(backend, patchesT);
    if (dyRows.dataId !== dy.dataId) release(backend, dyRows);
    if (total === undefined) {
      total = product;
    } else {
      const sum = floatsOf(backend, total);
      const part = floatsOf(backend, product);
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] ?? 0) + (part[i] ?? 0);
      release(backend, product);
    }
  }
  if (total === undefined) throw new BackendError(`Conv2DBackpropFilter: empty batch in x of shape [${x.shape.join(", ")}]`);
  return view(total, [...attrs.filterShape]);
}

/**
 * im2col, transposed, for samples [first, first + count): row (fy, fx, ci)
 * holds, for every output pixel (n, oy, ox) in order, the input value under
 * that filter tap (zero over the padding). Writes are sequential; reads
 * stride through x, which for these layers stays in cache.
 */
function writePatchesTransposed(
  backend: WasmBackend,
  x: tf.TensorInfo,
  patchesT: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  first: number,
  count: number,
): void {
  const { heap, start: xStart } = heapOf(backend, x);
  const outStart = heapOf(backend, patchesT).start;
  const { inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rows = count * outHeight * outWidth;
  const sampleSize = inHeight * inWidth * inChannels;
  const rowSize = inWidth * inChannels;
  for (let fy = 0; fy < filterHeight; fy++) {
    for (let fx = 0; fx < filterWidth; fx++) {
      // Output columns whose tap fx lands inside the image: ox*sw - left + fx in [0, inWidth).
      const oxLow = Math.min(outWidth, Math.max(0, Math.ceil((left - fx) / strideWidth)));
      const oxHigh = Math.max(oxLow, Math.min(outWidth, Math.floor((inWidth - 1 + left - fx) / strideWidth) + 1));
      for (let ci = 0; ci < inChannels; ci++) {
        let target = outStart + ((fy * filterWidth + fx) * inChannels + ci) * rows;
        for (let n = first; n < first + count; n++) {
          for (let oy = 0; oy < outHeight; oy++, target += outWidth) {
            const y = oy * strideHeight - top + fy;
            if (y < 0 || y >= inHeight) {
              heap.fill(0, target, target + outWidth);
              continue;
            }
            if (oxLow > 0) heap.fill(0, target, target + oxLow);
            if (oxHigh < outWidth) heap.fill(0, target + oxHigh, target + outWidth);
            const step = strideWidth * inChannels;
            let source = xStart + n * sampleSize + y * rowSize + (oxLow * strideWidth - left + fx) * inChannels + ci;
            for (let ox = oxLow; ox < oxHigh; ox++, source += step) heap[target + ox] = heap[source] ?? 0;
          }
        }
      }
    }
  }
}
