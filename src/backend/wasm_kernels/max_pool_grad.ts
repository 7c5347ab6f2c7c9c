/**
 * MaxPoolGrad (the gradient of maxPool) for the wasm backend. The stock
 * kernel was the largest cost of a small CNN's training step (about 100 ms of
 * 300 at batch 128 on 28x28x32 maps); this one is a single pass over the
 * output pixels in JS on the wasm heap.
 *
 * Each output pixel's gradient goes to the first maximum of its window, in
 * row-major window order (ties and NaN as tfjs's cpu kernel: a NaN is never
 * the maximum). Overlapping windows add into dx in output order. Windows
 * that do not overlap (every 2x2 pool of relearn's CNNs), on a multiple of 4
 * channels, go to max_pool_grad.wat, a SIMD loop over 4 channels at a time
 * with the same result.
 */
import * as tf from "@tensorflow/tfjs-core";
import { BackendError } from "../../errors.js";
import { MAX_POOL_GRAD_WASM } from "./max_pool_grad_wasm.js";
import { heapOf, wasmKernelExport, type KernelArgs, type WasmBackend, type WindowAttrs } from "./wasm_heap.js";

/** max_pool_grad.wat's export: pointers are byte offsets into the heap. */
type MaxPoolGradExport = (x: number, dy: number, dx: number, ...dimensions: number[]) => void;

interface MaxPoolGradAttrs extends WindowAttrs {
  filterSize: number | [number, number];
}

/** The override's kernel function. */
export function maxPoolGradOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  if (input.dtype !== "float32" || dy.dtype !== "float32") {
    throw new BackendError(`MaxPoolGrad on wasm needs float32 tensors; got ${input.dtype} and ${dy.dtype}`);
  }
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const dx = backend.makeOutput(input.shape, "float32");
  // Views after the allocation: it may have grown the heap.
  const { heap, start: dxStart } = heapOf(backend, dx);
  const xStart = heapOf(backend, input).start;
  const dyStart = heapOf(backend, dy).start;
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  heap.fill(0, dxStart, dxStart + tf.util.sizeFromShape(input.shape));
  if (strideHeight >= filterHeight && strideWidth >= filterWidth && channels % 4 === 0) {
    const offset = (info: tf.TensorInfo): number => backend.dataIdMap.get(info.dataId)!.memoryOffset;
    wasmKernelExport<MaxPoolGradExport>(backend, MAX_POOL_GRAD_WASM, "maxPoolGrad")(
      offset(input), offset(dy), offset(dx),
      batchSize, inHeight, inWidth, channels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth, top, left,
    );
    return dx;
  }
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  let dyIndex = dyStart;
  for (let b = 0; b < batchSize; b++) {
    const sampleStart = b * inHeight * inWidth * channels;
    for (let oy = 0; oy < outHeight; oy++) {
      const yFirst = Math.max(0, oy * strideHeight - top);
      const yEnd = Math.min(inHeight, oy * strideHeight - top + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const xFirst = Math.max(0, ox * strideWidth - left);
        const xEnd = Math.min(inWidth, ox * strideWidth - left + filterWidth);
        best.fill(Number.NEGATIVE_INFINITY);
        where.fill(-1);
        for (let y = yFirst; y < yEnd; y++) {
          for (let x = xFirst; x < xEnd; x++) {
            const pixel = sampleStart + (y * inWidth + x) * channels;
            for (let c = 0; c < channels; c++) {
              const value = heap[xStart + pixel + c]!;
              if (value > best[c]!) {
                best[c] = value;
                where[c] = pixel + c;
              }
            }
          }
        }
        for (let c = 0; c < channels; c++) {
          const at = where[c]!;
          if (at >= 0) heap[dxStart + at] = heap[dxStart + at]! + heap[dyIndex + c]!;
        }
        dyIndex += channels;
      }
    }
  }
  return dx;
}

