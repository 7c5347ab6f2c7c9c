/**
 * What the kernel overrides need from the tfjs wasm backend: its tensor
 * table, its heap, and the stock kernels they delegate the real arithmetic
 * to. The backend's internals are typed here, in one place, so a tfjs
 * upgrade that moves them breaks this file and nothing else.
 *
 * Everything the overrides allocate is a wasm tensor (`makeOutput`) that the
 * override itself frees with `release` before returning: the engine only
 * ever sees the final output.
 */
import * as tf from "@tensorflow/tfjs-core";
import { BackendError } from "../../errors.js";

/** The slice of tfjs-backend-wasm's BackendWasm the overrides use. */
export interface WasmBackend extends tf.KernelBackend {
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  wasm: { HEAPU8: Uint8Array };
}

/** What tfjs passes a kernel function. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}

/** A kernel's function as tfjs calls it. */
export type KernelCall = (args: KernelArgs) => tf.TensorInfo;

/** The window attributes tfjs gives the convolution and pooling gradient kernels. */
export interface WindowAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** The stock wasm kernels, captured before the overrides replace any of them. */
const stock = new Map<string, tf.KernelConfig>();
/** relearn's own kernel functions: never mistaken for a stock kernel (which would recurse). */
const overrides = new WeakSet<object>();

/** Marks a kernel function as one of relearn's overrides. */
export function markOverride(kernelFunc: tf.KernelFunc): void {
  overrides.add(kernelFunc);
}

/** Remembers the stock wasm kernel `name` (once); undefined when wasm has none. */
export function captureStockKernel(name: string): tf.KernelConfig | undefined {
  if (!stock.has(name)) {
    const config = tf.getKernel(name, "wasm") as tf.KernelConfig | undefined;
    if (config !== undefined && !overrides.has(config.kernelFunc)) stock.set(name, config);
  }
  return stock.get(name);
}

/** The stock wasm kernel `name`, as a function of (inputs, attrs). */
export function stockKernel(name: string): (backend: WasmBackend, inputs: tf.NamedTensorInfoMap, attrs?: object) => tf.TensorInfo {
  const config = captureStockKernel(name);
  if (config === undefined) throw new BackendError(`the wasm backend has no stock "${name}" kernel to delegate to`);
  const call = config.kernelFunc as unknown as KernelCall;
  return (backend, inputs, attrs) => call({ inputs, backend, attrs: (attrs ?? {}) as tf.NamedAttrMap });
}

/** Frees intermediate wasm tensors (the kernel's own temporaries, never its inputs). */
export function release(backend: WasmBackend, ...infos: readonly tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** The same wasm buffer under another shape: reshaping a contiguous tensor costs nothing. */
export function view(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * A float view of the WHOLE wasm heap and the float index where `info`
 * starts. Take it again after any allocation: growing the heap replaces the
 * buffer.
 */
export function heapOf(backend: WasmBackend, info: tf.TensorInfo): { heap: Float32Array; start: number } {
  const data = backend.dataIdMap.get(info.dataId);
  if (data === undefined) throw new BackendError(`tensor ${JSON.stringify(info.shape)} is not a wasm tensor`);
  // malloc returns 16-byte aligned blocks, so the float index is exact.
  return { heap: new Float32Array(backend.wasm.HEAPU8.buffer), start: data.memoryOffset >>> 2 };
}

/** The float32 values of one wasm tensor, as a view (valid until the next allocation). */
export function floatsOf(backend: WasmBackend, info: tf.TensorInfo): Float32Array {
  const { heap, start } = heapOf(backend, info);
  return heap.subarray(start, start + tf.util.sizeFromShape(info.shape));
}

/** A new wasm tensor holding `size` floats copied from `source` starting at float `from`. */
export function copyRange(backend: WasmBackend, source: tf.TensorInfo, from: number, shape: number[]): tf.TensorInfo {
  const out = backend.makeOutput(shape, source.dtype);
  const { heap, start: sourceStart } = heapOf(backend, source);
  const outStart = heapOf(backend, out).start;
  heap.copyWithin(outStart, sourceStart + from, sourceStart + from + tf.util.sizeFromShape(shape));
  return out;
}

/** tfjs's wasm memory: exported as wasmMemory by its threaded build, as asm.memory by the plain one. */
export function wasmMemoryOf(backend: WasmBackend): WebAssembly.Memory {
  const module = backend.wasm as { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  const memory = module.wasmMemory ?? module.asm?.memory;
  if (memory === undefined) throw new BackendError("cannot find the wasm backend's memory (tfjs internals changed?)");
  return memory;
}

/** Compiled kernels by their base64 bytes, then by the memory they were instantiated on. */
const kernelInstances = new Map<string, WeakMap<WebAssembly.Memory, WebAssembly.Exports>>();

/**
 * The export `name` of one of relearn's generated wasm kernels
 * (build-wasm-kernels.ts), instantiated on tfjs's memory (once per memory):
 * the plain build for a plain memory, the shared build for the threaded one.
 */
export function wasmKernelExport<F>(backend: WasmBackend, builds: { plain: string; shared: string }, name: string): F {
  const memory = wasmMemoryOf(backend);
  const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
  const source = shared ? builds.shared : builds.plain;
  let onMemory = kernelInstances.get(source);
  if (onMemory === undefined) kernelInstances.set(source, (onMemory = new WeakMap()));
  let exports = onMemory.get(memory);
  if (exports === undefined) {
    const bytes = Uint8Array.from(atob(source), (c) => c.charCodeAt(0));
    // The kernels are a few KB, so compiling synchronously is allowed everywhere.
    exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
    onMemory.set(memory, exports);
  }
  return exports[name] as F;
}
