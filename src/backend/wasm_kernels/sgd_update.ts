/**
 * One plain SGD step for one variable on the wasm backend (sgd_update.wat):
 * value + (-learningRate) * grad in one SIMD pass, the same float32
 * operations as tf.train.sgd's add(mul(c, gradient), value), so the same
 * bits. Called directly by training/fused_sgd.ts (never differentiated, so
 * no engine dispatch).
 */
import * as tf from "@tensorflow/tfjs-core";
import { SGD_UPDATE_WASM } from "./sgd_update_wasm.js";
import { wasmKernelExport, type WasmBackend } from "./wasm_heap.js";

type SgdExport = (value: number, grad: number, out: number, size: number, c: number) => void;

/** A new float32 wasm tensor: value + c * grad, c = -learningRate rounded to float32 (as tfjs's scalar holds it). */
export function sgdUpdate(backend: WasmBackend, value: tf.TensorInfo, grad: tf.TensorInfo, learningRate: number): tf.TensorInfo {
  if (value.dtype !== "float32" || grad.dtype !== "float32" || !tf.util.arraysEqual(value.shape, grad.shape)) {
    throw new Error(`sgdUpdate: value and gradient must be float32 of one shape, got ${value.dtype} [${value.shape}] and ${grad.dtype} [${grad.shape}]`);
  }
  const out = backend.makeOutput(value.shape, "float32");
  const offset = (info: tf.TensorInfo): number => backend.dataIdMap.get(info.dataId)!.memoryOffset;
  wasmKernelExport<SgdExport>(backend, SGD_UPDATE_WASM, "sgd")(offset(value), offset(grad), offset(out), tf.util.sizeFromShape(value.shape), Math.fround(-learningRate));
  return out;
}
