/**
 * Conv2DBackpropFilter (the weight gradient of conv2d) for the wasm backend,
 * which has no such kernel: without it no CNN trains on wasm.
 *
 * dW[fy, fx, ci, co] = sum over samples and output pixels of
 * x[n, oy*sh - top + fy, ox*sw - left + fx, ci] * dy[n, oy, ox, co].
 * With the patches of x as rows (im2col: one row per output pixel, columns
 * ordered (fy, fx, ci) like the filter) that is patches^T @ dy. It is
 * computed as dW^T = dy^T @ patches, so the big operand (patches) is the
 * plain right-hand side of the fast matmul and only the narrow dy is
 * transposed. Samples go in chunks so the patch matrix stays a few MB.
 */
import * as tf from "@tensorflow/tfjs-core";
import { BackendError } from "../../errors.js";
import { copyRange, floatsOf, heapOf, release, stockKernel, type WasmBackend } from "./wasm_heap.js";

/** Floats of the patch matrix per chunk (16 MB): large enough for long matmuls, small for the heap. */
const PATCH_FLOATS_PER_CHUNK = 4 * 1024 * 1024;
/** Shorter runs are copied element by element: cheaper than a copyWithin call. */
const SHORT_RUN = 16;

interface BackpropFilterAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

/** The override's kernel function. */
export function conv2DBackpropFilterOnFastPath(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
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
  const sum = new Float32Array(info.outChannels * patchWidth);
  const matMul = stockKernel(tf.BatchMatMul);
  const transpose = stockKernel(tf.Transpose);
  for (let first = 0; first < info.batchSize; first += samplesPerChunk) {
    const count = Math.min(samplesPerChunk, info.batchSize - first);
    const rows = count * pixelsPerSample;
    const patches = backend.makeOutput([1, rows, patchWidth], "float32");
    writePatches(backend, x, patches, info, first, count);
    const dyRows = copyRange(backend, dy, first * pixelsPerSample * info.outChannels, [rows, info.outChannels]);
    const dyT = transpose(backend, { x: dyRows }, { perm: [1, 0] });
    const dyT3 = { ...dyT, shape: [1, info.outChannels, rows] };
    const product = matMul(backend, { a: dyT3, b: patches }, { transposeA: false, transposeB: false });
    const values = floatsOf(backend, product);
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] ?? 0) + (values[i] ?? 0);
    release(backend, patches, dyRows, dyT, product);
  }
  const out = backend.makeOutput([...attrs.filterShape], "float32");
  const outValues = floatsOf(backend, out);
  // sum is [co][fy, fx, ci]; the filter gradient is [fy, fx, ci][co].
  for (let co = 0; co < info.outChannels; co++) {
    for (let p = 0; p < patchWidth; p++) outValues[p * info.outChannels + co] = sum[co * patchWidth + p] ?? 0;
  }
  return out;
}

/**
 * im2col for samples [first, first + count): row (n, oy, ox) holds the
 * filter-sized window of x at that output pixel, zeros where it hangs over
 * the padding. Within a window row fy, the fx-th pixels are neighbours in x,
 * so each (pixel, fy) is one contiguous run of filterWidth * inChannels.
 */
function writePatches(
  backend: WasmBackend,
  x: tf.TensorInfo,
  patches: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  first: number,
  count: number,
): void {
  const { heap, start: xStart } = heapOf(backend, x);
  const patchStart = heapOf(backend, patches).start;
  const { inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const windowRow = filterWidth * inChannels;
  const patchWidth = filterHeight * windowRow;
  const sampleSize = inHeight * inWidth * inChannels;
  let row = patchStart;
  for (let n = first; n < first + count; n++) {
    const sample = xStart + n * sampleSize;
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, row += patchWidth) {
        const x0 = ox * strideWidth - left;
        const fxLow = Math.max(0, -x0);
        const fxHigh = Math.min(filterWidth, inWidth - x0);
        for (let fy = 0; fy < filterHeight; fy++) {
          const destination = row + fy * windowRow;
          const y = oy * strideHeight - top + fy;
          if (y < 0 || y >= inHeight || fxHigh <= fxLow) {
            heap.fill(0, destination, destination + windowRow);
            continue;
          }
          if (fxLow > 0) heap.fill(0, destination, destination + fxLow * inChannels);
          if (fxHigh < filterWidth) heap.fill(0, destination + fxHigh * inChannels, destination + windowRow);
          const runStart = destination + fxLow * inChannels;
          const length = (fxHigh - fxLow) * inChannels;
          const source = sample + (y * inWidth + x0 + fxLow) * inChannels;
          if (length >= SHORT_RUN) {
            heap.copyWithin(runStart, source, source + length);
          } else {
            for (let i = 0; i < length; i++) heap[runStart + i] = heap[source + i] ?? 0;
          }
        }
      }
    }
  }
}
