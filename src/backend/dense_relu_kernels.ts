/**
 * Two kernels for the wasm backend that fuse a dense layer's bias with its
 * ReLU, used by the whole-step training path (training/dense_chain_step.ts)
 * for every Dense layer with a bias followed by a ReLU:
 *
 * - RelearnBiasRelu: relu(x + bias) for x (rows, units) and bias (units):
 *   the forward's Add and Relu in one pass, one output buffer;
 * - RelearnReluBiasGrad: for the upstream gradient dy and the ReLU's output
 *   y, the gradient through the ReLU (dy where y > 0, else dy * 0) and the
 *   bias gradient (its column sums): the backward's Step, Multiply and Sum
 *   (itself a transpose and a reduction) in one pass.
 *
 * At batch 32 each of the kernels they replace costs more in dispatch,
 * allocation and a pass over memory than in arithmetic. The loops are
 * relearn's SIMD module (wasm_kernels/dense_relu.wat) on tfjs's heap; every
 * value is the same float32 operation, in the same order, as in the stock
 * kernels (NaN included: relu and step of a NaN are NaN, so a diverging
 * step still shows in the loss), so the results are the same bit for bit
 * (NaN payloads aside; tested against them in
 * test/backend/dense_relu_kernels.test.ts and through the whole step in
 * test/training/dense_chain_step.test.ts). Only registered for wasm: on
 * other backends the step runs the unfused kernels.
 */
import * as tf from "@tensorflow/tfjs-core";
import { activeBackendHasKernels, registerCustomKernels } from "./custom_kernels.js";
import { DENSE_RELU_WASM } from "./wasm_kernels/dense_relu_wasm.js";
import { wasmMemoryOf, type KernelArgs, type WasmBackend } from "./wasm_kernels/wasm_heap.js";

/** relu(x + bias): inputs x (rows, units) and bias (units); one output like x. */
export const BIAS_RELU = "RelearnBiasRelu";
/** Inputs dy and y (rows, units, y = the ReLU's output); outputs [dx (rows, units), dBias (units)]. */
export const RELU_BIAS_GRAD = "RelearnReluBiasGrad";

interface DenseReluExports {
  bias_relu(x: number, bias: number, y: number, rows: number, cols: number): void;
  relu_bias_grad(dy: number, y: number, dx: number, dBias: number, rows: number, cols: number): void;
}

/** The SIMD module instantiated on each wasm memory it was used with. */
const onMemory = new WeakMap<WebAssembly.Memory, DenseReluExports>();

function exportsFor(memory: WebAssembly.Memory): DenseReluExports {
  let module = onMemory.get(memory);
  if (module === undefined) {
    const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
    const bytes = Uint8Array.from(atob(shared ? DENSE_RELU_WASM.shared : DENSE_RELU_WASM.plain), (c) => c.charCodeAt(0));
    // The module is about 1 KB, so compiling it synchronously is allowed everywhere.
    module = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as DenseReluExports;
    onMemory.set(memory, module);
  }
  return module;
}

/** Rows and units of a float32 (rows, units) matrix, after checking `others` are (units) or the same shape. */
function matrixShape(kernel: string, x: tf.TensorInfo, same: tf.TensorInfo | null, vector: tf.TensorInfo | null): [number, number] {
  if (x.shape.length !== 2 || x.dtype !== "float32") throw new Error(`${kernel}: expects a float32 (rows, units) matrix, got ${x.dtype} [${x.shape}]`);
  const [rows, units] = x.shape as [number, number];
  if (same !== null && (same.dtype !== "float32" || !tf.util.arraysEqual(same.shape, x.shape))) {
    throw new Error(`${kernel}: both matrices must be float32 [${x.shape}], got ${same.dtype} [${same.shape}]`);
  }
  if (vector !== null && (vector.dtype !== "float32" || tf.util.sizeFromShape(vector.shape) !== units || vector.shape.length !== 1)) {
    throw new Error(`${kernel}: the bias must be float32 [${units}], got ${vector.dtype} [${vector.shape}]`);
  }
  return [rows, units];
}

function offsetOf(backend: WasmBackend, info: tf.TensorInfo): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}

function wasmBiasRelu({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as WasmBackend;
  const { x, bias } = inputs as { x: tf.TensorInfo; bias: tf.TensorInfo };
  const [rows, units] = matrixShape(BIAS_RELU, x, null, bias);
  const y = wasm.makeOutput([rows, units], "float32");
  exportsFor(wasmMemoryOf(wasm)).bias_relu(offsetOf(wasm, x), offsetOf(wasm, bias), offsetOf(wasm, y), rows, units);
  return y;
}

function wasmReluBiasGrad({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const wasm = backend as WasmBackend;
  const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const [rows, units] = matrixShape(RELU_BIAS_GRAD, dy, y, null);
  const dx = wasm.makeOutput([rows, units], "float32");
  const dBias = wasm.makeOutput([units], "float32");
  exportsFor(wasmMemoryOf(wasm)).relu_bias_grad(offsetOf(wasm, dy), offsetOf(wasm, y), offsetOf(wasm, dx), offsetOf(wasm, dBias), rows, units);
  return [dx, dBias];
}

/** Registers both kernels for "wasm" (idempotent). */
export function registerDenseReluKernels(): void {
  registerCustomKernels([
    { kernelName: BIAS_RELU, backendName: "wasm", kernelFunc: wasmBiasRelu },
    { kernelName: RELU_BIAS_GRAD, backendName: "wasm", kernelFunc: wasmReluBiasGrad },
  ]);
}

/** Whether the active backend has both kernels. */
export function hasDenseReluKernels(): boolean {
  return activeBackendHasKernels([BIAS_RELU, RELU_BIAS_GRAD]);
}
