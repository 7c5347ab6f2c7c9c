/**
 * Swaps the last two axes of a float32 wasm tensor with relearn's SIMD
 * transpose (transpose.wat), one call per matrix of the batch. The matmul
 * overrides (fast_matmul.ts) transpose an operand or a product several
 * times per training step; tfjs-backend-wasm's Transpose kernel moves one
 * value per iteration, about 4x slower (measured on 784 x 256). Exact: a
 * transpose only moves values.
 */
import * as tf from "@tensorflow/tfjs-core";
import { TRANSPOSE_WASM } from "./transpose_wasm.js";
import { wasmMemoryOf, type WasmBackend } from "./wasm_heap.js";

type TransposeExport = (src: number, dst: number, rows: number, cols: number) => void;
/** The module instantiated on each wasm memory it was used with. */
const onMemory = new WeakMap<WebAssembly.Memory, TransposeExport>();

function transposeFor(memory: WebAssembly.Memory): TransposeExport {
  let transpose = onMemory.get(memory);
  if (transpose === undefined) {
    const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
    const bytes = Uint8Array.from(atob(shared ? TRANSPOSE_WASM.shared : TRANSPOSE_WASM.plain), (c) => c.charCodeAt(0));
    // The module is under 1 KB, so compiling it synchronously is allowed everywhere.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    transpose = instance.exports.transpose as TransposeExport;
    onMemory.set(memory, transpose);
  }
  return transpose;
}

/** A new wasm tensor: `x` (float32, rank >= 2) with its last two axes swapped. */
export function swapLastTwoAxes(backend: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2]!;
  const cols = x.shape[rank - 1]!;
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
  const transpose = transposeFor(wasmMemoryOf(backend));
  const offset = (info: tf.TensorInfo): number => backend.dataIdMap.get(info.dataId)!.memoryOffset;
  const src = offset(x);
  const dst = offset(out);
  const bytes = rows * cols * 4;
  const batches = tf.util.sizeFromShape(x.shape.slice(0, -2));
  for (let b = 0; b < batches; b++) transpose(src + b * bytes, dst + b * bytes, rows, cols);
  return out;
}
