/**
 * Plain SGD (no momentum, no weight decay) with one SIMD pass per variable
 * on the wasm backend (backend/wasm_kernels/sgd_update.ts), where
 * tf.train.sgd runs a Multiply and an Add through the engine per variable,
 * each with its own buffer: at batch 128 of a 784-256-256-10 MLP that was
 * about 8% of the step. Same values bit for bit (the same two float32
 * operations; test/backend/sgd_update.test.ts and the numerics freeze in
 * test/training/numerics_freeze.test.ts). Other backends keep tf.train.sgd.
 */
import * as tf from "@tensorflow/tfjs-core";
import { sgdUpdate } from "../backend/wasm_kernels/sgd_update.js";
import type { WasmBackend } from "../backend/wasm_kernels/wasm_heap.js";

/** Whether the active backend runs the fused SGD kernel (wasm). */
export function backendRunsFusedSgd(): boolean {
  return tf.getBackend() === "wasm";
}

/**
 * One step at `learningRate` for the variables with a gradient in `grads`
 * (keyed by variable name); the active backend must be wasm.
 */
export function fusedSgdStep(grads: tf.NamedTensorMap, variables: readonly tf.Variable[], learningRate: number): void {
  const backend = tf.backend() as WasmBackend;
  for (const variable of variables) {
    const grad = grads[variable.name];
    if (grad == null) continue;
    const value = tf.engine().makeTensorFromTensorInfo(sgdUpdate(backend, variable, grad, learningRate));
    variable.assign(value);
    value.dispose();
  }
}
