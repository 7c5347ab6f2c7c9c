/**
 * Conv2DBackpropFilter (the weight gradient of conv2d) for the wasm backend,
 * which has no such kernel: without it no CNN trains on wasm.
 *
 * dW[fy, fx, ci, co] = sum over samples and output pixels of
 * x[n, oy*sh - top + fy, ox*sw - left + fx, ci] * dy[n, oy, ox, co].
 * With the patches of x as rows (im2col: one row per output pixel, columns
 * ordered (fy, fx, ci) like the filter) that is patches^T @ dy, whose
 * [fy*fx*ci, co] layout is the filter's. The patch matrix is built already
 * transposed and kept as the LEFT operand: XNNPACK repacks its right operand
 * on every call, which costs about 4x a transpose pass per element, and dy is
 * the narrower of the two (measured: about 2x faster than dy^T @ patches on a
 * 14x14x32 -> 64 layer). Samples go in chunks so the patch matrix stays a
 * few tens of MB.
 *
 * Stride 1 (every layer of relearn's CNNs) builds the transposed patches by
 * whole-row copies ("shifted grid", below) instead of gathering one value at
 * a time: the gather strode through x once per (fy, fx, ci), about two
 * thirds of this kernel's time on a 14x14x32 -> 64 layer. Other strides keep
 * the gather.
 *
 * Stride 1 with a multiple of 16 filters (relearn's cnn() layers) needs no
 * patch matrix at all: conv_filter_grad.wat reads x on the shifted grid and
 * dy as they are (backpropFilterDirect). On the 14x14x32 -> 64 layer at
 * batch 128 that is about 1.5x faster than the patch matrix through
 * long_product.wat, its predecessor (34 against 53 ms CPU time), on the
 * 28x28x1 -> 32 layer about 2.2x (2.7 against 6.0 ms: its nine patch rows
 * are paired across taps, so a single input channel wastes no work).
 *
 * A 3x3 "same" layer of even sides with multiples of 4 channels and 16
 * filters goes by Winograd instead (conv2d_winograd.ts,
 * winogradFilterGradient): the 14x14x32 -> 64 layer about 1.25x faster
 * again (31 against 38 ms CPU, loaded machine).
 */
import * as tf from "@tensorflow/tfjs-core";
import { BackendError } from "../../errors.js";
import { CONV_FILTER_GRAD_WASM } from "./conv_filter_grad_wasm.js";
import { winogradFilterGradient, winogradFits } from "./conv2d_winograd.js";
import { swapLastTwoAxes } from "./transpose_2d.js";
import { copyRange, floatsOf, heapOf, release, stockKernel, view, wasmKernelExport, type KernelArgs, type WasmBackend, type WindowAttrs } from "./wasm_heap.js";

/** Floats of the patch matrix per chunk (32 MB): large enough for long matmuls, small for the heap. */
const DEFAULT_PATCH_FLOATS_PER_CHUNK = 8 * 1024 * 1024;
let PATCH_FLOATS_PER_CHUNK = DEFAULT_PATCH_FLOATS_PER_CHUNK;

/**
 * Sets the chunk size (floats of the patch matrix; the default when
 * undefined) and returns the previous one. For tests: several chunks on
 * small inputs, which the cpu reference checks in seconds.
 */
export function setPatchFloatsPerChunk(floats: number | undefined): number {
  const previous = PATCH_FLOATS_PER_CHUNK;
  PATCH_FLOATS_PER_CHUNK = floats ?? DEFAULT_PATCH_FLOATS_PER_CHUNK;
  return previous;
}

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
  // 3x3 "same" on even maps, multiples of 4 channels and 16 filters: Winograd (conv2d_winograd.ts).
  if (winogradFits(info) && info.outChannels % 16 === 0) return view(winogradFilterGradient(backend, x, dy, info), [...attrs.filterShape]);
  const grid = shiftedGrid(info);
  if (grid !== null && info.outChannels % 16 === 0 && info.outHeight * info.outWidth > 0) {
    return view(backpropFilterDirect(backend, x, dy, info, grid), [...attrs.filterShape]);
  }
  if (grid !== null) return view(backpropFilterOnGrid(backend, x, dy, info, grid), [...attrs.filterShape]);
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
    total = accumulate(backend, total, product);
  }
  if (total === undefined) throw new BackendError(`Conv2DBackpropFilter: empty batch in x of shape [${x.shape.join(", ")}]`);
  return view(total, [...attrs.filterShape]);
}

/** total + part, in total's buffer (part freed); part itself when there is no total yet. */
function accumulate(backend: WasmBackend, total: tf.TensorInfo | undefined, part: tf.TensorInfo): tf.TensorInfo {
  if (total === undefined) return part;
  const sum = floatsOf(backend, total);
  const add = floatsOf(backend, part);
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] ?? 0) + (add[i] ?? 0);
  release(backend, part);
  return total;
}

/**
 * The shifted grid, for stride 1. Lay each sample out as Zr zero rows
 * followed by its H rows, each row as Z zero columns followed by its W
 * pixels (Zr = max(top, bottom) padding, Z = max(left, right)), all samples
 * one after another: a flat list of grid cells, `columns` = Z + W per row,
 * `cellsPerSample` = (Zr + H) * columns. Put dy on a grid of the same shape:
 * output pixel (n, oy, ox) at cell n * cellsPerSample + oy * columns + ox,
 * zero elsewhere. Then the input value under filter tap (fy, fx) of output
 * cell q is x's grid at cell q + offset(fy, fx), offset = (fy - top + Zr) *
 * columns + (fx - left + Z), for every q: a tap that falls into the padding
 * lands on a zero cell (left of the row: its own Z zeros; right of the row:
 * the next row's; above or below: the Zr zero rows, the last sample's below
 * from zeros appended at the end). So the row (fy, fx, ci) of the transposed
 * patch matrix is one contiguous slice of channel ci of the x grid, starting
 * at offset(fy, fx). The grid holds (Zr + H)(Z + W) cells per sample against
 * H * W output pixels (15 x 15 against 14 x 14 for a 3x3 "same" layer), so
 * the product does that much more work on zero rows of dy; the copies are
 * memcpy-fast instead of a gather per value.
 */
export interface ShiftedGrid {
  zeroRows: number;
  zeroColumns: number;
  columns: number;
  cellsPerSample: number;
  /** offset(fy, fx) in row-major (fy, fx) order. */
  offsets: number[];
}

/** The grid of a stride-1 layer whose outputs fit on it; null otherwise (strides, or paddings wider than the filter). */
export function shiftedGrid(info: tf.backend_util.Conv2DInfo): ShiftedGrid | null {
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { top, bottom, left, right } = info.padInfo;
  if (strideHeight !== 1 || strideWidth !== 1 || dilationHeight !== 1 || dilationWidth !== 1) return null;
  if (Math.min(top, bottom, left, right) < 0) return null;
  const zeroRows = Math.max(top, bottom);
  const zeroColumns = Math.max(left, right);
  const columns = zeroColumns + inWidth;
  // Each output pixel needs its own cell: outHeight <= Zr + H and outWidth <= Z + W.
  if (outHeight > zeroRows + inHeight || outWidth > columns) return null;
  const offsets: number[] = [];
  for (let fy = 0; fy < filterHeight; fy++) {
    for (let fx = 0; fx < filterWidth; fx++) offsets.push((fy - top + zeroRows) * columns + (fx - left + zeroColumns));
  }
  return { zeroRows, zeroColumns, columns, cellsPerSample: (zeroRows + inHeight) * columns, offsets };
}

/** conv_filter_grad.wat's export: out += dW; pointers are byte offsets into the heap. */
type ConvFilterGradExport = (
  x: number,
  dy: number,
  out: number,
  samples: number,
  outHeight: number,
  outWidth: number,
  columns: number,
  cellsPerSample: number,
  inChannels: number,
  outChannels: number,
  filterHeight: number,
  filterWidth: number,
) => void;

/**
 * dW straight from x on the shifted grid and the plain dy
 * (conv_filter_grad.wat), for a multiple of 16 filters: no patch matrix, no
 * transpose, no dy grid, and no products on the grid's zero cells. For
 * the 14x14x32 -> 64 layer at batch 128 the patch matrix alone was 33 MB
 * written and read again per step.
 */
function backpropFilterDirect(
  backend: WasmBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  grid: ShiftedGrid,
): tf.TensorInfo {
  const { inChannels, outChannels, batchSize, filterHeight, filterWidth } = info;
  const xGrid = gridOfX(backend, x, info, grid, 0, batchSize);
  const total = backend.makeOutput([filterHeight * filterWidth * inChannels, outChannels], "float32");
  floatsOf(backend, total).fill(0);
  const offset = (info: tf.TensorInfo): number => backend.dataIdMap.get(info.dataId)!.memoryOffset;
  // Cell of output pixel (0, 0, 0) under tap (0, 0): offset(0, 0) on the grid.
  const origin = offset(xGrid) + (grid.offsets[0] ?? 0) * inChannels * 4;
  wasmKernelExport<ConvFilterGradExport>(backend, CONV_FILTER_GRAD_WASM, "convFilterGrad")(
    origin,
    offset(dy),
    offset(total),
    batchSize,
    info.outHeight,
    info.outWidth,
    grid.columns,
    grid.cellsPerSample,
    inChannels,
    outChannels,
    filterHeight,
    filterWidth,
  );
  release(backend, xGrid);
  return total;
}

/** dW on the shifted grid, chunk by chunk of samples, as a [taps * inChannels, outChannels] tensor. */
function backpropFilterOnGrid(
  backend: WasmBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  grid: ShiftedGrid,
): tf.TensorInfo {
  const { inChannels, outChannels, batchSize } = info;
  const patchWidth = grid.offsets.length * inChannels;
  const samplesPerChunk = Math.max(1, Math.floor(PATCH_FLOATS_PER_CHUNK / (grid.cellsPerSample * patchWidth)));
  const matMul = stockKernel(tf.BatchMatMul);
  let total: tf.TensorInfo | undefined;
  for (let first = 0; first < batchSize; first += samplesPerChunk) {
    const count = Math.min(samplesPerChunk, batchSize - first);
    const cells = count * grid.cellsPerSample;
    const patchesT = gridPatchesTransposed(backend, x, info, grid, first, count);
    const dyGrid = gridOfDy(backend, dy, info, grid, first, count);
    const product = matMul(backend, { a: view(patchesT, [1, patchWidth, cells]), b: view(dyGrid, [1, cells, outChannels]) }, { transposeA: false, transposeB: false });
    total = accumulate(backend, total, product);
    release(backend, patchesT, dyGrid);
  }
  if (total === undefined) throw new BackendError(`Conv2DBackpropFilter: empty batch in x of shape [${x.shape.join(", ")}]`);
  return total;
}

/** The transposed patch matrix [taps * inChannels, cells] of samples [first, first + count), by row copies. */
function gridPatchesTransposed(
  backend: WasmBackend,
  x: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  grid: ShiftedGrid,
  first: number,
  count: number,
): tf.TensorInfo {
  const { inChannels } = info;
  const cells = count * grid.cellsPerSample;
  const xGrid = gridOfX(backend, x, info, grid, first, count);
  const length = xGrid.shape[0]!;
  // Channel-major: one contiguous run of cells per channel (a view when there is one channel).
  const channels = inChannels === 1 ? xGrid : swapLastTwoAxes(backend, xGrid);
  if (channels !== xGrid) release(backend, xGrid);
  const patchesT = backend.makeOutput([grid.offsets.length * inChannels, cells], "float32");
  const { heap, start: channelsStart } = heapOf(backend, channels);
  let target = heapOf(backend, patchesT).start;
  for (const offset of grid.offsets) {
    for (let ci = 0; ci < inChannels; ci++, target += cells) {
      const from = channelsStart + ci * length + offset;
      heap.copyWithin(target, from, from + cells);
    }
  }
  release(backend, channels);
  return patchesT;
}

/** x of samples [first, first + count) on the grid: [cells + the last taps' reach, inChannels], zeros around the rows. */
export function gridOfX(backend: WasmBackend, x: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, grid: ShiftedGrid, first: number, count: number): tf.TensorInfo {
  const { inHeight, inWidth, inChannels } = info;
  // Zeros appended for the last taps' reach.
  const cells = count * grid.cellsPerSample + Math.max(...grid.offsets);
  const cellOf = (n: number, y: number) => n * grid.cellsPerSample + (grid.zeroRows + y) * grid.columns + grid.zeroColumns;
  return rowsOnGrid(backend, x, { cells, channels: inChannels, height: inHeight, width: inWidth }, first, count, cellOf);
}

/** dy of samples [first, first + count) on the grid: [cells, outChannels], zero off the output pixels. */
function gridOfDy(backend: WasmBackend, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, grid: ShiftedGrid, first: number, count: number): tf.TensorInfo {
  const { outHeight, outWidth, outChannels } = info;
  const cellOf = (n: number, oy: number) => n * grid.cellsPerSample + oy * grid.columns;
  return rowsOnGrid(backend, dy, { cells: count * grid.cellsPerSample, channels: outChannels, height: outHeight, width: outWidth }, first, count, cellOf);
}

/**
 * A zeroed [cells, channels] tensor holding each image row y of samples [first, first + count) of `source`
 * ([samples, height, width, channels]) from cell `cellOf(n, y)` on: the one copy loop of gridOfX and gridOfDy.
 */
function rowsOnGrid(
  backend: WasmBackend,
  source: tf.TensorInfo,
  shape: { cells: number; channels: number; height: number; width: number },
  first: number,
  count: number,
  cellOf: (n: number, y: number) => number,
): tf.TensorInfo {
  const { cells, channels, height, width } = shape;
  const out = backend.makeOutput([cells, channels], "float32");
  // Taken after makeOutput: a grown wasm memory has a new heap.
  const { heap, start: sourceStart } = heapOf(backend, source);
  const outStart = heapOf(backend, out).start;
  heap.fill(0, outStart, outStart + cells * channels);
  const rowFloats = width * channels;
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < height; y++) {
      const from = sourceStart + ((first + n) * height + y) * rowFloats;
      const to = outStart + cellOf(n, y) * channels;
      heap.copyWithin(to, from, from + rowFloats);
    }
  }
  return out;
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
