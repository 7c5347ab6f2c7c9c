/**
 * Two kernels for the wasm backend that fuse a conv layer's bias, ReLU and
 * 2x2 max-pool (stride 2, "valid"), used by the op chain for relearn's
 * cnn() blocks (model/conv_bias_relu.ts):
 *
 * - RelearnBiasReluPool: maxPool(relu(conv + bias)) for conv
 *   [batch, height, width, channels] (even sides, a multiple of 4 channels)
 *   and bias [channels]: the forward's Add, Relu and MaxPool in one pass,
 *   without the ReLU's full-size output buffer;
 * - RelearnBiasReluPoolGrad: from the pooled output's gradient, conv and
 *   bias, the gradient of conv (the pooled gradient at each window's first
 *   maximum where that maximum is > 0, zero elsewhere) and of the bias (its
 *   sum): the backward's MaxPoolGrad, Step, Multiply and Sum in one pass.
 *
 * The loops are relearn's SIMD module (wasm_kernels/bias_relu_pool.wat) on
 * tfjs's heap. The values are those of the unfused kernels except the sign
 * of zero gradients and the order of the bias gradient's sum (window by
 * window instead of row by row: a float rounding difference). A NaN in
 * conv + bias gives a NaN output (the loss shows it) and a zero gradient.
 * Only registered for wasm.
 */
import * as tf from "@tensorflow/tfjs-core";
import { activeBackendHasKernels, registerCustomKernels } from "./custom_kernels.js";
import { BIAS_RELU_POOL_WASM } from "./wasm_kernels/bias_relu_pool_wasm.js";
import { wasmKernelExport, type KernelArgs, type WasmBackend } from "./wasm_kernels/wasm_heap.js";

/** maxPool(relu(conv + bias), 2, 2, "valid"): inputs conv [n, h, w, c] and bias [c]; output [n, h/2, w/2, c]. */
export const BIAS_RELU_POOL = "RelearnBiasReluPool";
/** Inputs dy (the pooled output's gradient), conv and bias; outputs [dConv (like conv), dBias (like bias)]. */
export const BIAS_RELU_POOL_GRAD = "RelearnBiasReluPoolGrad";

type PoolExport = (conv: number, bias: number, out: number, pooledRows: number, pooledCols: number, channels: number) => void;
type PoolGradExport = (dy: number, conv: number, bias: number, dConv: number, dBias: number, pooledRows: number, pooledCols: number, channels: number) => void;

/** Whether the fused kernels take conv output of this shape: rank 4, even nonzero sides, a multiple of 4 channels. */
export function biasReluPoolFits(shape: readonly number[]): boolean {
  if (shape.length !== 4) return false;
  const [batch, height, width, channels] = shape as [number, number, number, number];
  return batch > 0 && height > 0 && width > 0 && height % 2 === 0 && width % 2 === 0 && channels > 0 && channels % 4 === 0;
}

function check(kernel: string, conv: tf.TensorInfo, bias: tf.TensorInfo): [number, number, number, number] {
  if (conv.dtype !== "float32" || !biasReluPoolFits(conv.shape)) throw new Error(`${kernel}: expects float32 [n, even h, even w, 4k channels], got ${conv.dtype} [${conv.shape}]`);
  const shape = conv.shape as [number, number, number, number];
  if (bias.dtype !== "float32" || bias.shape.length !== 1 || bias.shape[0] !== shape[3]) throw new Error(`${kernel}: the bias must be float32 [${shape[3]}], got ${bias.dtype} [${bias.shape}]`);
  return shape;
}

function offsetOf(backend: WasmBackend, info: tf.TensorInfo): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}

function wasmBiasReluPool({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as WasmBackend;
  const { conv, bias } = inputs as { conv: tf.TensorInfo; bias: tf.TensorInfo };
  const [batch, height, width, channels] = check(BIAS_RELU_POOL, conv, bias);
  const out = wasm.makeOutput([batch, height / 2, width / 2, channels], "float32");
  wasmKernelExport<PoolExport>(wasm, BIAS_RELU_POOL_WASM, "biasReluPool")(offsetOf(wasm, conv), offsetOf(wasm, bias), offsetOf(wasm, out), (batch * height) / 2, width / 2, channels);
  return out;
}

function wasmBiasReluPoolGrad({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const wasm = backend as WasmBackend;
  const { dy, conv, bias } = inputs as { dy: tf.TensorInfo; conv: tf.TensorInfo; bias: tf.TensorInfo };
  const [batch, height, width, channels] = check(BIAS_RELU_POOL_GRAD, conv, bias);
  if (dy.dtype !== "float32" || !tf.util.arraysEqual(dy.shape, [batch, height / 2, width / 2, channels])) {
    throw new Error(`${BIAS_RELU_POOL_GRAD}: dy must be float32 [${[batch, height / 2, width / 2, channels]}], got ${dy.dtype} [${dy.shape}]`);
  }
  const dConv = wasm.makeOutput([...conv.shape], "float32");
  const dBias = wasm.makeOutput([channels], "float32");
  wasmKernelExport<PoolGradExport>(wasm, BIAS_RELU_POOL_WASM, "biasReluPoolGrad")(
    offsetOf(wasm, dy),
    offsetOf(wasm, conv),
    offsetOf(wasm, bias),
    offsetOf(wasm, dConv),
    offsetOf(wasm, dBias),
    (batch * height) / 2,
    width / 2,
    channels,
  );
  return [dConv, dBias];
}

/** Registers both kernels for "wasm" (idempotent). */
export function registerBiasReluPoolKernels(): void {
  registerCustomKernels([
    { kernelName: BIAS_RELU_POOL, backendName: "wasm", kernelFunc: wasmBiasReluPool },
    { kernelName: BIAS_RELU_POOL_GRAD, backendName: "wasm", kernelFunc: wasmBiasReluPoolGrad },
  ]);
}

/** Whether the active backend has both kernels. */
export function hasBiasReluPoolKernels(): boolean {
  return activeBackendHasKernels([BIAS_RELU_POOL, BIAS_RELU_POOL_GRAD]);
}
