/**
 * relearn's own float32 GEMM (gemm.wat) on tfjs's wasm heap: c = a @ b with
 * b read row-major where it is. XNNPACK (the stock BatchMatMul) packs its
 * right operand into its own layout whenever the operand is a new tensor,
 * and in training every weight and gradient is one each step: for the
 * 784 x 256 first layer of an MLP at batch 128 the packing costs about 40% of
 * the product. This kernel sums in XNNPACK's order, so its products are the
 * same bit for bit (test/backend/gemm.test.ts); on one thread it is also a
 * little faster than XNNPACK with the operand already packed. It runs on one
 * thread only, so the BatchMatMul override (batch_mat_mul.ts) uses it when
 * XNNPACK has one thread too.
 */
import * as tf from "@tensorflow/tfjs-core";
import { GEMM_WASM } from "./gemm_wasm.js";
import { wasmKernelExport, type WasmBackend } from "./wasm_heap.js";

type GemmExport = (a: number, b: number, c: number, m: number, k: number, n: number) => void;

/**
 * A new float32 tensor a @ b of shape [...outer, m, n], for float32 wasm
 * tensors a (..., m, k) and b (..., k, n) whose leading axes all have size 1
 * (`outer` is their broadcast).
 */
export function gemm(backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo, outer: number[]): tf.TensorInfo {
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [kB, n] = b.shape.slice(-2) as [number, number];
  if (k !== kB) throw new Error(`gemm: inner sizes differ (${a.shape} and ${b.shape})`);
  const c = backend.makeOutput([...outer, m, n], "float32");
  const offset = (info: tf.TensorInfo): number => backend.dataIdMap.get(info.dataId)!.memoryOffset;
  wasmKernelExport<GemmExport>(backend, GEMM_WASM, "gemm")(offset(a), offset(b), offset(c), m, k, n);
  return c;
}

/** XNNPACK's thread count by backend (tfjs's wasm module answers it; 1 when it cannot). */
const threadCounts = new WeakMap<WasmBackend, number>();

/** Whether tfjs's XNNPACK runs on one thread (then gemm.wat, single-threaded too, is the faster product). */
export function xnnpackSingleThreaded(backend: WasmBackend): boolean {
  let threads = threadCounts.get(backend);
  if (threads === undefined) {
    const module = backend.wasm as { tfjs?: { getThreadsCount?(): number } };
    threads = module.tfjs?.getThreadsCount?.() ?? 1;
    threadCounts.set(backend, threads);
  }
  return threads <= 1;
}

/** Sizes of the last two axes. */
export function lastTwoAxes(x: tf.TensorInfo): [number, number] {
  const rank = x.shape.length;
  return [x.shape[rank - 2] ?? 1, x.shape[rank - 1] ?? 1];
}

/** Whether every axis but the last two has size 1. */
export function singleMatrix(x: tf.TensorInfo): boolean {
  return tf.util.sizeFromShape(x.shape.slice(0, -2)) === 1;
}
