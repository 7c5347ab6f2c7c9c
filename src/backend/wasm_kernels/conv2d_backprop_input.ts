/**
 * Conv2DBackpropInput (the input gradient of conv2d) for the wasm backend,
 * computed as a FORWARD convolution, which wasm runs with XNNPACK, instead of
 * the stock scalar loop:
 *
 * dx[n, y, x, ci] = sum over (fy, fx, co) of dy'[n, y + fy - top', x + fx - left', co] * w'[fy, fx, co, ci]
 *
 * where w' is the filter rotated by 180 degrees with its channel axes
 * swapped, dy' is dy with (stride - 1) zeros between neighbouring pixels, and
 * top' = filterHeight - 1 - top (left' likewise). Strides above 1 cost
 * stride^2 times the useful work on the inserted zeros; still far cheaper than
 * the scalar loop.
 */
import * as tf from "@tensorflow/tfjs-core";
import { winogradConv2D, winogradFits } from "./conv2d_winograd.js";
import { floatsOf, heapOf, release, stockKernel, type KernelArgs, type WasmBackend, type WindowAttrs } from "./wasm_heap.js";

interface BackpropInputAttrs extends WindowAttrs {
  dataFormat?: "NHWC" | "NCHW";
  inputShape: [number, number, number, number];
}

/** The override's kernel function. */
export function conv2DBackpropInputOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as BackpropInputAttrs;
  if (attrs.dataFormat === "NCHW" || dy.dtype !== "float32" || filter.dtype !== "float32") {
    return stockKernel(tf.Conv2DBackpropInput)(backend, args.inputs, args.attrs);
  }
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const spreadHeight = (info.outHeight - 1) * info.strideHeight + 1;
  const spreadWidth = (info.outWidth - 1) * info.strideWidth + 1;
  const top = info.filterHeight - 1 - info.padInfo.top;
  const left = info.filterWidth - 1 - info.padInfo.left;
  const bottom = info.inHeight - spreadHeight + info.filterHeight - 1 - top;
  const right = info.inWidth - spreadWidth + info.filterWidth - 1 - left;
  if (Math.min(top, left, bottom, right) < 0) {
    // Explicit paddings wider than the filter would need cropping; rare, so
    // they keep the stock kernel.
    return stockKernel(tf.Conv2DBackpropInput)(backend, args.inputs, args.attrs);
  }
  const rotated = rotatedFilter(backend, filter, info);
  const spread = info.strideHeight === 1 && info.strideWidth === 1 ? dy : spreadOut(backend, dy, info, spreadHeight, spreadWidth);
  // A 3x3 "same" layer of even sides: F(2x2, 3x3) (conv2d_winograd.ts).
  const forward = tf.backend_util.computeConv2DInfo(
    spread.shape as [number, number, number, number],
    rotated.shape as [number, number, number, number],
    1,
    1,
    [[0, 0], [top, bottom], [left, right], [0, 0]] as unknown as tf.backend_util.ExplicitPadding,
    undefined,
    false,
    "channelsLast",
  );
  if (winogradFits(forward)) {
    try {
      return winogradConv2D(backend, spread, rotated, forward);
    } finally {
      release(backend, rotated);
      if (spread !== dy) release(backend, spread);
    }
  }
  try {
    return stockKernel(tf.Conv2D)(
      backend,
      { x: spread, filter: rotated },
      {
        strides: [1, 1],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dataFormat: "NHWC",
        dilations: [1, 1],
      },
    );
  } finally {
    release(backend, rotated);
    if (spread !== dy) release(backend, spread);
  }
}

/** w'[fy, fx, co, ci] = w[fh-1-fy, fw-1-fx, ci, co]. */
function rotatedFilter(backend: WasmBackend, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { filterHeight, filterWidth, inChannels, outChannels } = info;
  const out = backend.makeOutput([filterHeight, filterWidth, outChannels, inChannels], "float32");
  const source = floatsOf(backend, filter);
  const target = floatsOf(backend, out);
  for (let fy = 0; fy < filterHeight; fy++) {
    for (let fx = 0; fx < filterWidth; fx++) {
      const from = ((filterHeight - 1 - fy) * filterWidth + (filterWidth - 1 - fx)) * inChannels * outChannels;
      const to = (fy * filterWidth + fx) * outChannels * inChannels;
      for (let ci = 0; ci < inChannels; ci++) {
        for (let co = 0; co < outChannels; co++) {
          target[to + co * inChannels + ci] = source[from + ci * outChannels + co] ?? 0;
        }
      }
    }
  }
  return out;
}

/** dy with (stride - 1) zero pixels between neighbours, rows and columns. */
function spreadOut(
  backend: WasmBackend,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  spreadHeight: number,
  spreadWidth: number,
): tf.TensorInfo {
  const { batchSize, outHeight, outWidth, outChannels, strideHeight, strideWidth } = info;
  const out = backend.makeOutput([batchSize, spreadHeight, spreadWidth, outChannels], "float32");
  const { heap, start: dyStart } = heapOf(backend, dy);
  const outStart = heapOf(backend, out).start;
  heap.fill(0, outStart, outStart + batchSize * spreadHeight * spreadWidth * outChannels);
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const from = dyStart + ((n * outHeight + oy) * outWidth + ox) * outChannels;
        const to = outStart + ((n * spreadHeight + oy * strideHeight) * spreadWidth + ox * strideWidth) * outChannels;
        heap.copyWithin(to, from, from + outChannels);
      }
    }
  }
  return out;
}
