/**
 * A 3x3, stride-1, "same" convolution (Conv2D, and Conv2DBackpropInput,
 * which runs as one) by Winograd's F(2x2, 3x3) for the wasm backend: per
 * 2x2 output tile, the 4x4 input tile is transformed (V = B^T d B), the
 * filter too (U = G g G^T), and the 16 element-wise products summed over
 * input channels become 16 matrix products [tiles, C] x [C, K] (winograd.wat
 * for a multiple of 16 filters, else XNNPACK);
 * the output transform (A^T m A) gives the tile. That is 16 multiplications
 * per tile, channel pair where the direct convolution needs 36: the three
 * 0.9 GFLOP convolutions of a small CNN's 14x14 layer ran at the wasm SIMD
 * ceiling (no fused multiply-add), so fewer multiplications was what was
 * left. The transforms are winograd.wat.
 *
 * Rounding differs from the direct convolution (the transforms add and
 * subtract before multiplying); F(2x2, 3x3) is the variant whose error stays
 * near float32's (tested against cpu at 1e-5 of the largest output). Taken
 * for even map sides and multiples of 4 channels in and out; other
 * convolutions keep the stock kernel.
 */
import * as tf from "@tensorflow/tfjs-core";
import { gridOfX, shiftedGrid } from "./conv2d_backprop_filter.js";
import { matMulOnFastPath, stockPlainMatMul } from "./fast_matmul.js";
import { WINOGRAD_WASM } from "./winograd_wasm.js";
import { floatsOf, release, stockKernel, wasmKernelExport, type KernelArgs, type WasmBackend, type WindowAttrs } from "./wasm_heap.js";

type InputTransform = (grid: number, v: number, samples: number, tilesH: number, tilesW: number, columns: number, cellsPerSample: number, channels: number) => void;
type OutputTransform = (m: number, y: number, samples: number, tilesH: number, tilesW: number, channels: number) => void;
type Products = (v: number, u: number, m: number, tiles: number, channels: number, filters: number) => void;

interface Conv2DAttrs extends WindowAttrs {
  dataFormat?: "NHWC" | "NCHW";
  dilations?: number | [number, number];
}

/** Whether F(2x2, 3x3) takes this convolution. */
export function winogradFits(info: tf.backend_util.Conv2DInfo): boolean {
  const { filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, inHeight, inWidth, outHeight, outWidth, inChannels, outChannels } = info;
  const { top, bottom, left, right } = info.padInfo;
  return (
    filterHeight === 3 && filterWidth === 3 && strideHeight === 1 && strideWidth === 1 && dilationHeight === 1 && dilationWidth === 1 &&
    top === 1 && bottom === 1 && left === 1 && right === 1 && outHeight === inHeight && outWidth === inWidth &&
    inHeight % 2 === 0 && inWidth % 2 === 0 && inHeight > 0 && inWidth > 0 && info.batchSize > 0 &&
    inChannels % 4 === 0 && outChannels % 4 === 0 && inChannels > 0 && outChannels > 0
  );
}

/** The Conv2D override's kernel function: Winograd where it fits, else the stock kernel. */
export function conv2DOnFastPath(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as Conv2DAttrs;
  if (attrs.dataFormat !== "NCHW" && x.dtype === "float32" && filter.dtype === "float32" && x.shape.length === 4) {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    if (winogradFits(info)) return winogradConv2D(backend, x, filter, info);
  }
  return stockKernel(tf.Conv2D)(backend, args.inputs, args.attrs);
}

/** y = conv2d(x, filter) by F(2x2, 3x3); `info` must satisfy winogradFits. */
export function winogradConv2D(backend: WasmBackend, x: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outChannels } = info;
  const grid = shiftedGrid(info)!;
  const tilesH = inHeight / 2;
  const tilesW = inWidth / 2;
  const tiles = batchSize * tilesH * tilesW;
  const offset = (t: tf.TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const kernels = { input: wasmKernelExport<InputTransform>(backend, WINOGRAD_WASM, "inputTransform"), output: wasmKernelExport<OutputTransform>(backend, WINOGRAD_WASM, "outputTransform") };
  const xGrid = gridOfX(backend, x, info, grid, 0, batchSize);
  const v = backend.makeOutput([16, tiles, inChannels], "float32");
  kernels.input(offset(xGrid), offset(v), batchSize, tilesH, tilesW, grid.columns, grid.cellsPerSample, inChannels);
  release(backend, xGrid);
  const u = transformedFilter(backend, filter, inChannels, outChannels);
  let m: tf.TensorInfo;
  if (outChannels % 16 === 0) {
    // winograd.wat's products read the 16 slices in place (XNNPACK would need each copied out).
    m = backend.makeOutput([16, tiles, outChannels], "float32");
    wasmKernelExport<Products>(backend, WINOGRAD_WASM, "products")(offset(v), offset(u), offset(m), tiles, inChannels, outChannels);
  } else {
    m = matMulOnFastPath(backend, v, u, false, false, stockPlainMatMul(backend));
  }
  release(backend, v, u);
  const y = backend.makeOutput([batchSize, inHeight, inWidth, outChannels], "float32");
  kernels.output(offset(m), offset(y), batchSize, tilesH, tilesW, outChannels);
  release(backend, m);
  return y;
}

/** U = G g G^T for every (ci, co): [16, C, K], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. */
function transformedFilter(backend: WasmBackend, filter: tf.TensorInfo, inChannels: number, outChannels: number): tf.TensorInfo {
  const u = backend.makeOutput([16, inChannels, outChannels], "float32");
  const g = floatsOf(backend, filter);
  const out = floatsOf(backend, u);
  const pairs = inChannels * outChannels;
  const t = new Float32Array(12);
  for (let p = 0; p < pairs; p++) {
    // g[fy][fx] at (fy * 3 + fx) * pairs + p; t = G g (4 x 3), then t G^T (4 x 4).
    for (let fx = 0; fx < 3; fx++) {
      const g0 = g[fx * pairs + p]!;
      const g1 = g[(3 + fx) * pairs + p]!;
      const g2 = g[(6 + fx) * pairs + p]!;
      t[fx] = g0;
      t[3 + fx] = 0.5 * (g0 + g1 + g2);
      t[6 + fx] = 0.5 * (g0 - g1 + g2);
      t[9 + fx] = g2;
    }
    for (let i = 0; i < 4; i++) {
      const a = t[i * 3]!;
      const b = t[i * 3 + 1]!;
      const c = t[i * 3 + 2]!;
      out[(i * 4) * pairs + p] = a;
      out[(i * 4 + 1) * pairs + p] = 0.5 * (a + b + c);
      out[(i * 4 + 2) * pairs + p] = 0.5 * (a - b + c);
      out[(i * 4 + 3) * pairs + p] = c;
    }
  }
  return u;
}

type GradOutputTransform = (dy: number, dm: number, samples: number, tilesH: number, tilesW: number, channels: number) => void;
type FilterProducts = (v: number, dm: number, du: number, tiles: number, channels: number, filters: number) => void;

/**
 * dW of a convolution winogradFits takes, with a multiple of 16 filters, by
 * the same transforms run backwards: dU[i] = V[i]^T dM[i] with V the input
 * transform and dM = A dy A^T per tile (the adjoint of the output
 * transform), then dW = G^T dU G. 16 products [C, tiles] x [tiles, K]
 * instead of the direct [9C, pixels] x [pixels, K]: 2.25x fewer
 * multiplications again.
 */
export function winogradFilterGradient(backend: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outChannels } = info;
  const grid = shiftedGrid(info)!;
  const tilesH = inHeight / 2;
  const tilesW = inWidth / 2;
  const tiles = batchSize * tilesH * tilesW;
  const offset = (t: tf.TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const xGrid = gridOfX(backend, x, info, grid, 0, batchSize);
  const v = backend.makeOutput([16, tiles, inChannels], "float32");
  wasmKernelExport<InputTransform>(backend, WINOGRAD_WASM, "inputTransform")(offset(xGrid), offset(v), batchSize, tilesH, tilesW, grid.columns, grid.cellsPerSample, inChannels);
  release(backend, xGrid);
  const dm = backend.makeOutput([16, tiles, outChannels], "float32");
  wasmKernelExport<GradOutputTransform>(backend, WINOGRAD_WASM, "gradOutputTransform")(offset(dy), offset(dm), batchSize, tilesH, tilesW, outChannels);
  const du = backend.makeOutput([16, inChannels, outChannels], "float32");
  floatsOf(backend, du).fill(0);
  wasmKernelExport<FilterProducts>(backend, WINOGRAD_WASM, "filterProducts")(offset(v), offset(dm), offset(du), tiles, inChannels, outChannels);
  release(backend, v, dm);
  const dw = backend.makeOutput([3, 3, inChannels, outChannels], "float32");
  const d = floatsOf(backend, du);
  const out = floatsOf(backend, dw);
  const pairs = inChannels * outChannels;
  const r = new Float32Array(12);
  for (let p = 0; p < pairs; p++) {
    // r = G^T d (3 x 4), then r G (3 x 3).
    for (let j = 0; j < 4; j++) {
      const d0 = d[j * pairs + p]!;
      const d1 = d[(4 + j) * pairs + p]!;
      const d2 = d[(8 + j) * pairs + p]!;
      const d3 = d[(12 + j) * pairs + p]!;
      r[j] = d0 + 0.5 * d1 + 0.5 * d2;
      r[4 + j] = 0.5 * d1 - 0.5 * d2;
      r[8 + j] = 0.5 * d1 + 0.5 * d2 + d3;
    }
    for (let a = 0; a < 3; a++) {
      const r0 = r[a * 4]!;
      const r1 = r[a * 4 + 1]!;
      const r2 = r[a * 4 + 2]!;
      const r3 = r[a * 4 + 3]!;
      out[(a * 3) * pairs + p] = r0 + 0.5 * r1 + 0.5 * r2;
      out[(a * 3 + 1) * pairs + p] = 0.5 * r1 - 0.5 * r2;
      out[(a * 3 + 2) * pairs + p] = 0.5 * r1 + 0.5 * r2 + r3;
    }
  }
  release(backend, du);
  return dw;
}
